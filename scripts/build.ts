/**
 * Builds what the npm package ships (`npm run build`; `npm pack` runs it):
 * the function bundles (dist/functions, rebuilt when stale), the JavaScript and
 * type declarations of the files tsconfig.build.json lists (dist/lib, dist/lambda,
 * dist/bin, from scratch so that no deleted file lingers), and the Kubernetes
 * manifests beside the construct that names them (dist/lib/kubernetes).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, buildFunctions } from './build-functions';

async function main(): Promise<void> {
  await buildFunctions({ ifStale: true, log: (line) => console.log(line) });
  for (const dir of ['lib', 'lambda', 'bin']) fs.rmSync(path.join(ROOT, 'dist', dir), { recursive: true, force: true });
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
  // lib/cluster-access.ts finds the manifests beside itself: lib/kubernetes in the repository, dist/lib/kubernetes in the package.
  fs.cpSync(path.join(ROOT, 'lib', 'kubernetes'), path.join(ROOT, 'dist', 'lib', 'kubernetes'), { recursive: true });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
