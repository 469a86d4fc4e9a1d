/**
 * The one test that bundles for real (the others skip it): esbuild must turn
 * each handler, with the ESM-only @kubernetes/client-node, into an ES module
 * that Node can load.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { EksGracefulDrain } from '../../lib/graceful-drain';

test('every function bundles into an index.mjs that loads and exports handler', () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'drain-bundling-'));
  try {
    // The CLI sets asset metadata; it tells where each bundle went.
    const app = new App({ outdir, context: { 'aws:cdk:enable-asset-metadata': true } });
    const stack = new Stack(app, 'Bundled', { env: { account: '123456789012', region: 'us-east-1' } });
    const drain = new EksGracefulDrain(stack, 'Drain', { clusterName: 'prod', autoScalingGroupNames: ['asg-a'] });
    const assembly = app.synth();
    const template = assembly.getStackByName('Bundled').template as { Resources: Record<string, any> };

    const functions = Object.values(drain.functions);
    for (const fn of functions) {
      const resource = template.Resources[stack.getLogicalId(fn.node.defaultChild as never)];
      const assetDir = path.join(outdir, resource.Metadata['aws:asset:path']);
      const bundle = path.join(assetDir, 'index.mjs');
      expect(fs.existsSync(bundle)).toBe(true);

      // Load the module in a separate Node, with the function's environment
      // (placeholders for tokens) and no AWS credentials: nothing may call AWS at import.
      const environment = Object.fromEntries(Object.entries(resource.Properties.Environment.Variables as Record<string, unknown>)
        .map(([key, value]) => [key, typeof value === 'string' ? value : 'arn:aws:states:us-east-1:123456789012:stateMachine:x']));
      const output = execFileSync(process.execPath, ['--input-type=module', '-e',
        `const m = await import(${JSON.stringify(bundle)}); console.log(typeof m.handler);`], {
        env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', ...environment },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect([fn.node.id, output.trim()]).toEqual([fn.node.id, 'function']);
    }
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}, 300_000);
