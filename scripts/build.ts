/**
 * Builds what the npm package ships (`npm run build`; `npm pack` runs it):
 * the function bundles (dist/functions, rebuilt when stale), the JavaScript and
 * type declarations of the files tsconfig.build.json lists (dist/lib, dist/lambda,
 * dist/bin, from scratch so that no deleted file lingers), and the Kubernetes
 * manifests beside the construct that names them (dist/lib/kubernetes), and the
 * operator CLI `eks-graceful-drain` (dist/bin/eks-graceful-drain.mjs).
 *
 * The CLI is bundled rather than compiled: it talks to the cluster through
 * @kubernetes/client-node, whose undici 8 crashes on Node 20 unless overridden,
 * and an override in our package.json does not reach a user's install. The
 * bundle carries the versions it was tested with and needs no dependency.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS, ROOT, buildFunctions } from './build-functions';

async function main(): Promise<void> {
  await buildFunctions({ ifStale: true, log: (line) => console.log(line) });
  for (const dir of ['lib', 'lambda', 'bin']) fs.rmSync(path.join(ROOT, 'dist', dir), { recursive: true, force: true });
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
  // lib/cluster-access.ts finds the manifests beside itself: lib/kubernetes in the repository, dist/lib/kubernetes in the package.
  fs.cpSync(path.join(ROOT, 'lib', 'kubernetes'), path.join(ROOT, 'dist', 'lib', 'kubernetes'), { recursive: true });
  await build({
    ...BUNDLE_OPTIONS,
    target: 'node20',
    entryPoints: [path.join(ROOT, 'bin', 'eks-graceful-drain.ts')],
    outfile: path.join(ROOT, 'dist', 'bin', 'eks-graceful-drain.mjs'),
    // The entry point's own shebang line is kept by esbuild as the first line.
    define: { 'process.env.EKS_GRACEFUL_DRAIN_CLI_BUNDLE': '"true"' },
  });
  fs.chmodSync(path.join(ROOT, 'dist', 'bin', 'eks-graceful-drain.mjs'), 0o755);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
