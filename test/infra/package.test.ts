/**
 * The package as a user gets it: `npm pack` (which builds it), the tarball
 * installed into a throw-away CDK app outside the repository, and that app's
 * own stack (a VPC, an Auto Scaling group, an imported cluster) synthesized
 * with EksGracefulDrain. No esbuild in the app: the functions ship prebuilt.
 *
 * aws-cdk-lib and constructs, the peer dependencies, are the repository's own
 * copies, linked (no download; `--legacy-peer-deps` because npm's arborist
 * crashes placing peers of linked packages). The package's few dependencies
 * come from the npm cache; the registry is asked only if the cache lacks them.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.join(__dirname, '..', '..');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

const USER_APP = `
import { App, Stack } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks';
import { EksGracefulDrain, type EksGracefulDrainProps } from 'eks-graceful-drain';

const app = new App({ outdir: 'cdk.out' });
const stack = new Stack(app, 'UserStack', { env: { account: '123456789012', region: 'eu-west-1' } });
const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 });
const cluster = eks.Cluster.fromClusterAttributes(stack, 'Cluster', { clusterName: 'prod' });
const nodes = new autoscaling.AutoScalingGroup(stack, 'Nodes', {
  vpc,
  vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
  instanceType: new ec2.InstanceType('m7g.large'),
  machineImage: ec2.MachineImage.genericLinux({ 'eu-west-1': 'ami-0123456789abcdef0' }),
});
const props: EksGracefulDrainProps = { cluster, autoScalingGroups: [nodes, 'batch-nodes'], onDeadline: 'continue' };
new EksGracefulDrain(stack, 'Drain', props);
app.synth();
`;

interface CfnResource {
  Type: string;
  Properties: Record<string, any>;
}

let work: string;
afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('npm pack → npm install in a fresh CDK app → cdk synth of the user\'s own stack', () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'eks-graceful-drain-pack-'));
  const run = (command: string, args: string[], cwd: string) =>
    execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });

  // Pack (prepack builds the function bundles and the JavaScript with declarations).
  const [packed] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], ROOT)) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const files = packed.files.map((file) => file.path);
  expect(files).toEqual(expect.arrayContaining(['dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/functions/heartbeat/index.mjs', 'dist/lib/kubernetes/rbac.yaml', 'dist/bin/eks-graceful-drain.mjs', 'job-guard/job-guard.sh']));
  expect(files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))).toEqual([]);
  expect(files.filter((file) => /^(test|sim|bench|scripts|dist\/meta)\//.test(file))).toEqual([]);

  // A user's app: the tarball, and the peers linked from this repository.
  const app = path.join(work, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({
    name: 'user-app',
    private: true,
    dependencies: {
      'eks-graceful-drain': `file:${path.join(work, packed.filename)}`,
      'aws-cdk-lib': `file:${path.join(ROOT, 'node_modules', 'aws-cdk-lib')}`,
      'constructs': `file:${path.join(ROOT, 'node_modules', 'constructs')}`,
    },
  }));
  const install = ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--legacy-peer-deps'];
  try {
    run('npm', [...install, '--offline'], app);
  } catch {
    run('npm', [...install, '--prefer-offline'], app);
  }
  expect(fs.existsSync(path.join(app, 'node_modules', 'esbuild'))).toBe(false);
  // The Kubernetes manifests the construct names are where it says.
  const manifests = JSON.parse(run(process.execPath, ['-e', "console.log(JSON.stringify(require('eks-graceful-drain').kubernetesManifests('force-delete')))"], app)) as string[];
  expect(manifests.length).toBeGreaterThan(0);
  for (const manifest of manifests) expect([manifest, fs.existsSync(manifest)]).toEqual([manifest, true]);
  // The operator CLI runs from the install with nothing but the tarball (client-node bundled in).
  expect(run(path.join(app, 'node_modules', '.bin', 'eks-graceful-drain'), ['--help'], app)).toMatch(/^Usage: eks-graceful-drain audit/);

  // The user's TypeScript compiles against the package's declarations, then synthesizes.
  fs.writeFileSync(path.join(app, 'app.ts'), USER_APP);
  fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'node16', moduleResolution: 'node16', strict: true, skipLibCheck: true, types: [] },
    files: ['app.ts'],
  }));
  run(process.execPath, [TSC, '-p', '.'], app);
  run(process.execPath, ['app.js'], app);

  // The template: hook, rule, state machine, seven functions deployed from staged prebuilt assets.
  const out = path.join(app, 'cdk.out');
  const template = JSON.parse(fs.readFileSync(path.join(out, 'UserStack.template.json'), 'utf8')) as { Resources: Record<string, CfnResource> };
  const resources = Object.values(template.Resources);
  const ofType = (type: string) => resources.filter((resource) => resource.Type === type);
  expect(ofType('AWS::AutoScaling::LifecycleHook').map((hook) => hook.Properties.AutoScalingGroupName)).toEqual([{ Ref: expect.stringMatching(/^NodesASG/) }, 'batch-nodes']);
  expect(ofType('AWS::StepFunctions::StateMachine')).toHaveLength(1);
  // The terminate lifecycle rule and the Spot interruption rule (on by default); the sweep's schedule.
  expect(ofType('AWS::Events::Rule').map((rule) => rule.Properties.EventPattern['detail-type']).sort()).toEqual([
    ['EC2 Instance-terminate Lifecycle Action'],
    ['EC2 Spot Instance Interruption Warning'],
  ]);
  expect(ofType('AWS::Scheduler::Schedule')).toHaveLength(1);
  const functions = ofType('AWS::Lambda::Function');
  // start-drain, prepare, cordon, drain-step, heartbeat, apply-deadline, complete, sweep (node-marks only with warm pools or rebalance cordons).
  expect(functions).toHaveLength(8);
  const assets = JSON.parse(fs.readFileSync(path.join(out, 'UserStack.assets.json'), 'utf8')) as { files: Record<string, { source: { path: string; packaging: string } }> };
  for (const fn of functions) {
    expect(fn.Properties).toMatchObject({ Handler: 'index.handler', Runtime: 'nodejs22.x', Environment: { Variables: { CLUSTER_NAME: 'prod', DEADLINE_POLICY: 'continue' } } });
    const hash = String(fn.Properties.Code.S3Key).replace(/\.zip$/, '');
    const asset = assets.files[hash];
    expect(asset.source.packaging).toBe('zip');
    expect(fs.existsSync(path.join(out, asset.source.path, 'index.mjs'))).toBe(true);
  }
}, 300_000);
