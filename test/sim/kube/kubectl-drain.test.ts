import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeKubeServer } from '../../../sim/kube/server';

/**
 * The reference behaviour: the real `kubectl drain` against the fake server,
 * on the real clock (kubectl is another process and keeps wall time). Pods
 * shut down and replacements become ready within a second or two, so a
 * drain blocked once by its PDB finishes in a few seconds.
 */

interface KubectlResult { code: number; stdout: string; stderr: string }

describe('kubectl against FakeKubeServer', () => {
  let server: FakeKubeServer;
  let dir: string;
  let kubeconfig: string;

  /** Runs kubectl asynchronously: a synchronous child would block the server in this process. */
  const kubectl = (...args: string[]): Promise<KubectlResult> =>
    new Promise((resolve) => {
      execFile('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args], { timeout: 90_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      });
    });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kubectl-drain-'));
    server = await FakeKubeServer.start();
    kubeconfig = server.writeKubeconfig(dir);
    server.addNode({ name: 'ip-10-0-1-10.ec2.internal', instanceId: 'i-0aaa', az: 'us-east-1a' });
    server.addNode({ name: 'ip-10-0-2-20.ec2.internal', instanceId: 'i-0bbb', az: 'us-east-1b' });
    server.addDeployment({
      namespace: 'shop', name: 'web', replicas: 2, nodeName: 'ip-10-0-1-10.ec2.internal',
      terminationGracePeriodSeconds: 30, shutdownSeconds: 0.5, readyAfterSeconds: 1, emptyDir: true,
    });
    server.addPdb({ namespace: 'shop', name: 'web', selector: { matchLabels: { app: 'web' } }, maxUnavailable: 1 });
    server.addDaemonSet({ namespace: 'kube-system', name: 'aws-node', nodes: ['ip-10-0-1-10.ec2.internal', 'ip-10-0-2-20.ec2.internal'], tolerations: [{ operator: 'Exists' }] });
    server.addMirrorPod({ nodeName: 'ip-10-0-1-10.ec2.internal', name: 'kube-proxy-ip-10-0-1-10.ec2.internal' });
  });

  afterEach(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports the server version it picked a client for', async () => {
    const { code, stdout } = await kubectl('version');
    expect(code).toBe(0);
    expect(stdout).toMatch(/Server Version: v1\.31\.4/);
  });

  it('lists nodes and pods with server-side printing', async () => {
    const nodes = await kubectl('get', 'nodes');
    const pods = await kubectl('get', 'pods', '-A', '-o', 'wide');
    expect(nodes.code).toBe(0);
    expect(nodes.stdout).toMatch(/ip-10-0-1-10\.ec2\.internal\s+Ready\s+<none>/);
    expect(pods.code).toBe(0);
    expect(pods.stdout).toMatch(/^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE/);
    expect(pods.stdout.trim().split('\n')).toHaveLength(1 + 5);
    expect(pods.stdout).toMatch(/kube-system\s+kube-proxy-ip-10-0-1-10\.ec2\.internal\s+1\/1\s+Running/);
  });

  it('drains a node: evicts through the PDB, retrying its 429, and leaves DaemonSet and mirror pods', async () => {
    // Act
    const drain = await kubectl('drain', 'ip-10-0-1-10.ec2.internal', '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=60s');
    // Assert
    expect(drain.stderr).toMatch(/Cannot evict pod as it would violate the pod's disruption budget/);
    expect(drain).toMatchObject({ code: 0 });
    expect(drain.stdout).toMatch(/node\/ip-10-0-1-10\.ec2\.internal drained/);
    expect(server.node('ip-10-0-1-10.ec2.internal').spec.unschedulable).toBe(true);
    const remaining = server.pods({ nodeName: 'ip-10-0-1-10.ec2.internal' });
    expect(remaining.map((p) => p.metadata.ownerReferences?.[0]?.kind).sort()).toEqual(['DaemonSet', 'Node']);
    const moved = server.pods({ namespace: 'shop' });
    expect(moved).toHaveLength(2);
    expect(moved.every((p) => p.spec.nodeName === 'ip-10-0-2-20.ec2.internal')).toBe(true);
    // What kubectl asked: one cordon patch, one pod list, evictions (some refused by the PDB), then GETs.
    expect(server.countRequests({ verb: 'patch', path: '/api/v1/nodes/ip-10-0-1-10.ec2.internal' })).toBe(1);
    expect(server.countRequests({ verb: 'list', path: '/api/v1/pods' })).toBe(1);
    expect(server.countRequests({ verb: 'create', status: 429 })).toBeGreaterThanOrEqual(1);
    expect(server.countRequests({ verb: 'create', status: 201 })).toBe(2);
    expect(server.countRequests({ verb: 'get', path: /^\/apis\/apps\/v1\/namespaces\/kube-system\/daemonsets\/aws-node$/ })).toBeGreaterThanOrEqual(1);
  });

  it('refuses a pod without a controller unless forced', async () => {
    // Arrange
    server.addStandalonePod({ namespace: 'shop', name: 'debug', nodeName: 'ip-10-0-1-10.ec2.internal', shutdownSeconds: 0.2 });
    // Act
    const refused = await kubectl('drain', 'ip-10-0-1-10.ec2.internal', '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=60s');
    const forced = await kubectl('drain', 'ip-10-0-1-10.ec2.internal', '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--timeout=60s');
    // Assert
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/cannot delete Pods that declare no controller \(use --force to override\): shop\/debug/);
    expect(forced.code).toBe(0);
    expect(server.pods({ namespace: 'shop' }).map((p) => p.metadata.name)).not.toContain('debug');
  });

  it('pages a LIST with --chunk-size (limit and continue)', async () => {
    // Act
    const pods = await kubectl('get', 'pods', '-A', '--chunk-size=2');
    // Assert
    expect(pods.code).toBe(0);
    expect(pods.stdout.trim().split('\n')).toHaveLength(1 + 5);
    const pages = server.requests.filter((r) => r.path === '/api/v1/pods' && r.query.limit === '2');
    expect(pages).toHaveLength(3);
    expect(pages.filter((r) => r.query.continue)).toHaveLength(2);
  });

  it('meets a tainted node as a cluster does: a DaemonSet pod without the toleration is not recreated there, a tolerating one is', async () => {
    // Arrange: a log shipper that does not tolerate the drain's taint
    server.addDaemonSet({ namespace: 'logging', name: 'fluent-bit', nodes: ['ip-10-0-1-10.ec2.internal', 'ip-10-0-2-20.ec2.internal'], shutdownSeconds: 0.2 });
    server.addDeployment({ namespace: 'db', name: 'pg', replicas: 1, nodeName: 'ip-10-0-1-10.ec2.internal', persistentVolume: true, shutdownSeconds: 0.2 });
    const taint = await kubectl('taint', 'nodes', 'ip-10-0-1-10.ec2.internal', 'eks-graceful-drain/draining=0123456789abcdef:NoSchedule');
    const onNode = (ns: string) => server.pods({ nodeName: 'ip-10-0-1-10.ec2.internal', namespace: ns }).map((p) => p.metadata.name);
    const [logs] = onNode('logging');
    const [cni] = onNode('kube-system').filter((n) => n.startsWith('aws-node'));
    const attachments = await kubectl('get', 'volumeattachments');
    // Act
    const deleted = await kubectl('delete', 'pod', '-n', 'logging', logs, '--grace-period=0', '--force');
    const deletedCni = await kubectl('delete', 'pod', '-n', 'kube-system', cni, '--grace-period=0', '--force');
    const drain = await kubectl('drain', 'ip-10-0-1-10.ec2.internal', '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=60s');
    // Assert
    expect(taint).toMatchObject({ code: 0 });
    expect(server.node('ip-10-0-1-10.ec2.internal').spec.taints).toEqual(expect.arrayContaining([expect.objectContaining({ key: 'eks-graceful-drain/draining', effect: 'NoSchedule' })]));
    expect(attachments.code).toBe(0);
    expect(attachments.stdout).toMatch(/csi-[0-9a-f]+/);
    expect(deleted.code).toBe(0);
    expect(deletedCni.code).toBe(0);
    expect(onNode('logging')).toEqual([]);
    expect(onNode('kube-system').filter((n) => n.startsWith('aws-node'))).toHaveLength(1);
    expect(server.pods({ nodeName: 'ip-10-0-2-20.ec2.internal', namespace: 'logging' })).toHaveLength(1);
    expect(drain.code).toBe(0);
    // The database pod moved; its old VolumeAttachment goes some seconds later (real clock here).
    expect(onNode('db')).toEqual([]);
  });
});
