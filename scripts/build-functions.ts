/**
 * Bundles each Lambda handler (the `entry` of every function in
 * lib/drain-functions.ts FUNCTIONS) into its own directory,
 * dist/functions/<entry>/index.mjs, which the construct deploys with
 * lambda.Code.fromAsset: a user's `cdk synth` needs neither esbuild nor Docker,
 * and the repository's tests, rehearsal and `cdk synth` deploy the very files
 * the package ships.
 *
 *   npx tsx scripts/build-functions.ts            # rebuild all
 *   npx tsx scripts/build-functions.ts --if-stale # only what changed (tests, synth)
 *
 * Each bundle carries only what its handler imports (see lambda/handlers/deps.ts);
 * dist/meta/<entry>.json holds esbuild's metafile, which the bundling test and
 * `npm run bench:cold` read.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { build, type BuildOptions, type Metafile } from 'esbuild';
import { FUNCTIONS, OPTIONAL_FUNCTIONS, type DrainFunctionKey, type OptionalFunctionKey } from '../lib/drain-functions';

export const ROOT = path.join(__dirname, '..');
export const FUNCTIONS_DIR = path.join(ROOT, 'dist', 'functions');
export const META_DIR = path.join(ROOT, 'dist', 'meta');
const HANDLERS_DIR = path.join(ROOT, 'lambda', 'handlers');

/**
 * How every function is bundled, also used for the bare client bundles of
 * bench/cold-start.ts. @kubernetes/client-node 2.x is ESM-only: bundle as ESM,
 * prefer the packages' ESM builds, and give CommonJS dependencies that call
 * require() (Node built-ins) a real require. The AWS SDK is bundled, not taken
 * from the runtime: the versions the code was tested with, not ones that change under us.
 */
export const BUNDLE_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  mainFields: ['module', 'main'],
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  minify: true,
  // Line mappings are all stack traces need (NODE_OPTIONS=--enable-source-maps);
  // embedded sources would triple the package.
  sourcemap: true,
  sourcesContent: false,
  legalComments: 'none',
  logLevel: 'warning',
} satisfies BuildOptions;

export interface BuiltFunction {
  key: DrainFunctionKey | OptionalFunctionKey;
  /** The handler file's name without .ts: the bundle's directory name. */
  name: string;
  /** Directory holding index.mjs (and its source map): the Lambda asset. */
  dir: string;
  /** Size of index.mjs in bytes. */
  bytes: number;
  metafile: Metafile;
  rebuilt: boolean;
}

/** The bundle directory of a handler file (`start-drain.ts` → dist/functions/start-drain). */
export function bundleName(entry: string): string {
  return path.basename(entry, '.ts');
}

// A change of options or of this script rebuilds everything.
const OPTIONS_HASH = createHash('sha256')
  .update(JSON.stringify(BUNDLE_OPTIONS))
  .update(fs.readFileSync(__filename))
  .digest('hex')
  .slice(0, 16);

interface MetaRecord {
  optionsHash: string;
  metafile: Metafile;
}

/** Bundles every function (or, with `ifStale`, only those whose inputs changed since their last build). */
export async function buildFunctions(options: { ifStale?: boolean; log?: (line: string) => void } = {}): Promise<BuiltFunction[]> {
  const log = options.log ?? (() => undefined);
  fs.mkdirSync(META_DIR, { recursive: true });
  const entries = [...Object.entries(FUNCTIONS), ...Object.entries(OPTIONAL_FUNCTIONS)] as Array<[DrainFunctionKey | OptionalFunctionKey, (typeof FUNCTIONS)[DrainFunctionKey]]>;
  const built = await Promise.all(entries.map(async ([key, spec]): Promise<BuiltFunction> => {
    const name = bundleName(spec.entry);
    const dir = path.join(FUNCTIONS_DIR, name);
    const outfile = path.join(dir, 'index.mjs');
    const metaPath = path.join(META_DIR, `${name}.json`);
    const previous = options.ifStale ? upToDate(outfile, metaPath) : undefined;
    if (previous) return { key, name, dir, bytes: fs.statSync(outfile).size, metafile: previous.metafile, rebuilt: false };

    fs.rmSync(dir, { recursive: true, force: true });
    const result = await build({
      ...BUNDLE_OPTIONS,
      entryPoints: [path.join(HANDLERS_DIR, spec.entry)],
      outfile,
      absWorkingDir: ROOT,
      metafile: true,
    });
    const record: MetaRecord = { optionsHash: OPTIONS_HASH, metafile: result.metafile };
    fs.writeFileSync(metaPath, JSON.stringify(record));
    const bytes = fs.statSync(outfile).size;
    log(`${name.padEnd(16)} ${(bytes / 1024).toFixed(0).padStart(6)} KB`);
    return { key, name, dir, bytes, metafile: result.metafile, rebuilt: true };
  }));
  return built;
}

/** The previous build's record if the bundle is newer than every input it was built from. */
function upToDate(outfile: string, metaPath: string): MetaRecord | undefined {
  try {
    const record = JSON.parse(fs.readFileSync(metaPath, 'utf8')) as MetaRecord;
    if (record.optionsHash !== OPTIONS_HASH) return undefined;
    const builtAt = fs.statSync(outfile).mtimeMs;
    const inputs = [...Object.keys(record.metafile.inputs), 'package-lock.json'];
    return inputs.every((input) => fs.statSync(path.join(ROOT, input)).mtimeMs <= builtAt) ? record : undefined;
  } catch {
    return undefined;
  }
}

/** The npm packages a bundle includes, from its metafile (`@aws-sdk/client-eks`, `@kubernetes/client-node`, …). */
export function bundledPackages(metafile: Metafile): Set<string> {
  const packages = new Set<string>();
  for (const input of Object.keys(metafile.inputs)) {
    const at = input.lastIndexOf('node_modules/');
    if (at < 0) continue;
    const match = /^((?:@[^/]+\/)?[^/]+)\//.exec(input.slice(at + 'node_modules/'.length));
    if (match) packages.add(match[1]);
  }
  return packages;
}

if (require.main === module) {
  const started = Date.now();
  buildFunctions({ ifStale: process.argv.includes('--if-stale'), log: (line) => console.log(line) })
    .then((built) => {
      const rebuilt = built.filter((fn) => fn.rebuilt).length;
      if (rebuilt > 0) console.log(`${rebuilt} of ${built.length} function bundles built in ${((Date.now() - started) / 1000).toFixed(1)} s (${path.relative(process.cwd(), FUNCTIONS_DIR)})`);
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
