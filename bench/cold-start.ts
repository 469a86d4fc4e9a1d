/**
 * bench/cold-start: what each function costs to load, against a bundle of
 * just the clients it calls.
 *
 * For every function bundle the package ships (dist/functions, built by
 * scripts/build-functions.ts), and for a bare bundle of its clients (its AWS
 * SDK client classes alone; for the Kubernetes-facing ones @kubernetes/client-node's
 * KubeConfig and CoreV1Api plus the EKS client), bundled with the same options:
 * size, and the time `import()` of the module takes in a fresh Node 22 process
 * (the Lambda runtime's major version), median of RUNS, function and bare runs
 * interleaved so that load on the machine hits both alike. Both run with
 * --enable-source-maps, as the functions are deployed (NODE_OPTIONS).
 *
 * Node 22 comes from the npm registry's node-linux-<arch> package (the
 * official binary), unpacked into node_modules/.cache once; without it the
 * bench says so and measures with the Node running it.
 *
 * Goal (issue 13): each function loads within 1.3× of its bare bundle.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { build, type Metafile } from 'esbuild';
import { BUNDLE_OPTIONS, ROOT, buildFunctions, bundledPackages } from '../scripts/build-functions';
import { table, verdict } from './bench-kit';

const RUNS = Number(process.env.RUNS ?? 9);
const GOAL_RATIO = 1.3;
const NODE_MAJOR = 22;
const CACHE_DIR = path.join(ROOT, 'node_modules', '.cache', 'eks-graceful-drain');
const KUBERNETES_CLIENT = '@kubernetes/client-node';

/** A Node 22 binary: cached, or unpacked from the registry's node-linux-<arch> package. */
function node22(): { path: string; version: string } | undefined {
  const arch = { x64: 'x64', arm64: 'arm64' }[os.arch() as string];
  if (os.platform() !== 'linux' || !arch) return undefined;
  const dir = path.join(CACHE_DIR, `node${NODE_MAJOR}-linux-${arch}`);
  const binary = path.join(dir, 'package', 'bin', 'node');
  try {
    if (!fs.existsSync(binary)) {
      fs.mkdirSync(dir, { recursive: true });
      console.log(`fetching Node ${NODE_MAJOR} (npm package node-linux-${arch}@${NODE_MAJOR}) into ${path.relative(ROOT, dir)} …`);
      const [packed] = JSON.parse(execFileSync('npm', ['pack', `node-linux-${arch}@${NODE_MAJOR}`, '--json', '--pack-destination', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as Array<{ filename: string }>;
      execFileSync('tar', ['-xzf', path.join(dir, packed.filename), '-C', dir, 'package/bin/node']);
      fs.rmSync(path.join(dir, packed.filename));
    }
    return { path: binary, version: execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim() };
  } catch (error) {
    console.log(`no Node ${NODE_MAJOR} binary (${(error as Error).message.split('\n')[0]})`);
    return undefined;
  }
}

/** The clients a bundle carries: its @aws-sdk/client-* packages and client-node. */
function clientsOf(metafile: Metafile): string[] {
  return [...bundledPackages(metafile)].filter((name) => name.startsWith('@aws-sdk/client-') || name === KUBERNETES_CLIENT).sort();
}

/** The client class an @aws-sdk/client-* package exports (`EKSClient`, `AutoScalingClient`, …). */
function clientClass(name: string): string {
  const exported = Object.keys(require(name) as object).filter((key) => /^[A-Z][A-Za-z0-9]*Client$/.test(key));
  if (exported.length !== 1) throw new Error(`${name}: expected one client class, found ${exported.join(', ')}`);
  return exported[0];
}

/** A bundle of just these clients, with the functions' options. */
async function bareBundle(clients: string[]): Promise<string> {
  const lines = clients.map((name, i) =>
    name === KUBERNETES_CLIENT
      ? `import { KubeConfig as K${i}, CoreV1Api as A${i} } from '${name}'; keep.push(K${i}, A${i});`
      : `import { ${clientClass(name)} as C${i} } from '${name}'; keep.push(C${i});`);
  const source = `const keep = []; globalThis.__keep = keep;\n${lines.join('\n')}\n`;
  const dir = path.join(CACHE_DIR, 'bare', clients.map((name) => name.replace(/^@[^/]+\//, '')).join('+'));
  const outfile = path.join(dir, 'index.mjs');
  await build({ ...BUNDLE_OPTIONS, stdin: { contents: source, resolveDir: ROOT, loader: 'js' }, outfile, absWorkingDir: ROOT });
  return outfile;
}

/** Milliseconds `import()` of the module takes in a fresh process. */
function importMs(node: string, file: string): number {
  const script = `const t = performance.now(); await import(${JSON.stringify(file)}); process.stdout.write(String(performance.now() - t));`;
  const out = execFileSync(node, ['--enable-source-maps', '--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    encoding: 'utf8',
  });
  return Number(out);
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;
const ms = (value: number) => `${value.toFixed(1)} ms`;

async function main(): Promise<void> {
  const functions = await buildFunctions({ ifStale: true });
  const node = node22();
  const nodePath = node?.path ?? process.execPath;
  const nodeVersion = node?.version ?? process.version;
  console.log(`\nCold start: import() of each bundle in a fresh ${nodeVersion} process, median of ${RUNS} runs${node ? '' : ` (NOT Node ${NODE_MAJOR}: the figures are indicative only)`}\n`);

  const rows: Array<Array<string | number>> = [['function', 'size', 'init', 'bare clients', 'bare size', 'bare init', 'ratio', `goal ≤ ${GOAL_RATIO}×`]];
  let allPass = true;
  for (const fn of functions) {
    const clients = clientsOf(fn.metafile);
    const bare = await bareBundle(clients);
    const bundle = path.join(fn.dir, 'index.mjs');
    const own: number[] = [];
    const base: number[] = [];
    importMs(nodePath, bundle); // warm the file cache for both
    importMs(nodePath, bare);
    for (let run = 0; run < RUNS; run++) {
      own.push(importMs(nodePath, bundle));
      base.push(importMs(nodePath, bare));
    }
    const ratio = median(own) / median(base);
    const pass = ratio <= GOAL_RATIO;
    allPass &&= pass;
    rows.push([
      fn.name,
      kb(fn.bytes),
      ms(median(own)),
      clients.map((name) => name.replace('@aws-sdk/client-', '').replace(KUBERNETES_CLIENT, 'client-node')).join(' + '),
      kb(fs.statSync(bare).size),
      ms(median(base)),
      `${ratio.toFixed(2)}×`,
      verdict(pass),
    ]);
  }
  console.log(table(rows, ['l', 'r', 'r', 'l', 'r', 'r', 'r', 'l']));
  console.log(`\n${allPass ? 'PASS' : 'FAIL'}: every function within ${GOAL_RATIO}× of its bare clients' init time`);
  if (!allPass) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
