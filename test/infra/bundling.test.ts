/**
 * The prebuilt function bundles (scripts/build-functions.ts, run by jest's
 * global setup): each one is an ES module Node can load, carrying only the
 * clients its handler calls.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { KUBERNETES_FUNCTIONS } from '../../lib/cluster-access';
import { FUNCTIONS, functionBundleDir, type DrainFunctionKey } from '../../lib/drain-functions';
import { buildFunctions, bundledPackages, type BuiltFunction } from '../../scripts/build-functions';
import { synthesizeWorkflow } from '../../sim/workflow/synth';

const KUBERNETES_CLIENT = '@kubernetes/client-node';
/** A string of client-node's that survives minification (its user agent and repository URL). */
const KUBERNETES_CLIENT_MARK = 'kubernetes-client/javascript';
const bundleText = (key: DrainFunctionKey) => fs.readFileSync(path.join(built.get(key)!.dir, 'index.mjs'), 'utf8');
let built: Map<string, BuiltFunction>;

beforeAll(async () => {
  built = new Map((await buildFunctions({ ifStale: true })).map((fn) => [fn.key, fn]));
});

const keys = Object.keys(FUNCTIONS) as DrainFunctionKey[];
const kubernetesFacing = new Set<DrainFunctionKey>(KUBERNETES_FUNCTIONS);

test.each(keys.filter((key) => !kubernetesFacing.has(key)))('%s talks to AWS only: its bundle has no Kubernetes client', (key) => {
  const packages = bundledPackages(built.get(key)!.metafile);
  expect(packages.has(KUBERNETES_CLIENT)).toBe(false);
  expect([...packages].filter((name) => name.startsWith('@aws-sdk/client-')).length).toBeGreaterThan(0);
  // The metafile and the bundle agree: no client-node code slipped in by another route.
  expect(bundleText(key)).not.toContain(KUBERNETES_CLIENT_MARK);
});

test.each([...kubernetesFacing])('%s calls the Kubernetes API: its bundle has the client and the EKS client', (key) => {
  const packages = bundledPackages(built.get(key)!.metafile);
  expect(packages.has(KUBERNETES_CLIENT)).toBe(true);
  expect(packages.has('@aws-sdk/client-eks')).toBe(true);
  expect(bundleText(key)).toContain(KUBERNETES_CLIENT_MARK);
});

test('every function loads as an ES module exporting handler, with its environment and no AWS call at import', () => {
  const { environment } = synthesizeWorkflow();
  for (const key of keys) {
    const bundle = path.join(functionBundleDir(key), 'index.mjs');
    expect(built.get(key)!.dir).toBe(functionBundleDir(key));
    const output = execFileSync(process.execPath, ['--input-type=module', '-e',
      `const m = await import(${JSON.stringify(bundle)}); console.log(typeof m.handler);`], {
      env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', ...environment[key] },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect([key, output.trim()]).toEqual([key, 'function']);
  }
}, 120_000);
