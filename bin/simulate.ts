/**
 * `npm run simulate [-- --scenario examples/<name>.yaml] [--report drain.html]`:
 * rehearses a drain on virtual time (see sim/rehearsal/cli.ts).
 */
// The SDK's notice about Node 20 support would interleave with the timeline.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { main } from '../sim/rehearsal/cli';

main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (err: unknown) => {
    process.stderr.write(`simulate: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
