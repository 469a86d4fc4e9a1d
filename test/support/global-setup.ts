// The construct deploys the prebuilt function bundles (dist/functions): build
// those whose sources changed since the last build, once per jest run.
import { buildFunctions } from '../../scripts/build-functions';

export default async function globalSetup(): Promise<void> {
  await buildFunctions({ ifStale: true });
}
