import { DRAIN_TAINT_KEY, EXCLUDE_FROM_LB_LABEL, cordonNode, findNode, uncordonNode } from '../../../lambda/adapters/kube-nodes';
import * as k8s from '@kubernetes/client-node';
import type { KubeClient } from '../../../lambda/adapters/kube-client';
import { INSTANCE, NODE, startKit, type Kit } from './kube-test-kit';

describe('findNode', () => {
  let kit: Kit;
  beforeEach(async () => (kit = await startKit()));
  afterEach(() => kit.server.stop());

  test('finds the node by spec.providerID', async () => {
    // Act
    const found = await findNode(kit.kube, INSTANCE);
    // Assert
    expect(found).toMatchObject({ name: NODE, matchedBy: 'providerID', object: { metadata: { name: NODE } } });
  });

  test('an instance without a node is a normal outcome: undefined', async () => {
    // Act
    const found = await findNode(kit.kube, 'i-0ccccccccccccccc3', async () => 'ip-10-9-9-9.ec2.internal');
    // Assert
    expect(found).toBeUndefined();
  });

  test('one GET by the private DNS name, verified by providerID: no LIST of every node', async () => {
    // Act
    const found = await findNode(kit.kube, INSTANCE, async () => NODE);
    // Assert
    expect(found).toMatchObject({ name: NODE, matchedBy: 'privateDnsName' });
    expect(kit.server.countRequests({ verb: 'list' })).toBe(0);
    expect(kit.server.countRequests({ verb: 'get' })).toBe(1);
  });

  test("never takes another instance's node named after the DNS name", async () => {
    // Arrange: NODE belongs to INSTANCE, so another instance naming it must not get it
    // Act
    const other = await findNode(kit.kube, 'i-0ccccccccccccccc3', async () => NODE);
    // Assert
    expect(other).toBeUndefined();
  });
});

describe('cordonNode', () => {
  let kit: Kit;
  beforeEach(async () => (kit = await startKit()));
  afterEach(() => kit.server.stop());

  test('marks unschedulable, adds our NoSchedule taint and the exclude-from-load-balancers label', async () => {
    // Act
    const outcome = await cordonNode(kit.kube, NODE, 'abc123');
    // Assert
    expect(outcome).toBe('cordoned');
    const node = kit.server.node(NODE);
    expect(node.spec.unschedulable).toBe(true);
    expect(node.spec.taints).toContainEqual({ key: DRAIN_TAINT_KEY, value: 'abc123', effect: 'NoSchedule' });
    expect(node.metadata.labels?.[EXCLUDE_FROM_LB_LABEL]).toBe('true');
  });

  test('starting from the node the lookup read: one GET in all, then the PATCH; a conflict reads it again', async () => {
    // Arrange: the lookup reads the node; then someone else changes it
    const found = await findNode(kit.kube, INSTANCE, async () => NODE);
    kit.server.patchNodeAnnotations(NODE, { 'example.com/touched': 'yes' });
    const getsBefore = kit.server.countRequests({ verb: 'get', path: `/api/v1/nodes/${NODE}` });
    // Act
    const outcome = await cordonNode(kit.kube, NODE, 'abc123', found!.object);
    // Assert: the stale copy's resourceVersion test failed once, the node was read again and cordoned
    expect(outcome).toBe('cordoned');
    expect(kit.server.countRequests({ method: 'PATCH', path: `/api/v1/nodes/${NODE}` })).toBe(2);
    expect(kit.server.countRequests({ verb: 'get', path: `/api/v1/nodes/${NODE}` }) - getsBefore).toBe(1);
    expect(kit.server.node(NODE).spec.unschedulable).toBe(true);
    expect(kit.server.node(NODE).metadata.annotations?.['example.com/touched']).toBe('yes');
  });

  test('is idempotent: the second call reads and does not patch', async () => {
    // Arrange
    await cordonNode(kit.kube, NODE, 'abc123');
    const patchesBefore = kit.server.countRequests({ method: 'PATCH' });
    // Act
    const outcome = await cordonNode(kit.kube, NODE, 'abc123');
    // Assert
    expect(outcome).toBe('already-cordoned');
    expect(kit.server.countRequests({ method: 'PATCH' })).toBe(patchesBefore);
    expect(kit.server.node(NODE).spec.taints.filter((t: { key: string }) => t.key === DRAIN_TAINT_KEY)).toHaveLength(1);
  });

  test('a node that is gone is reported, not an error', async () => {
    // Act
    const outcome = await cordonNode(kit.kube, 'ip-10-0-0-99.ec2.internal', 'abc123');
    // Assert
    expect(outcome).toBe('node-gone');
  });

  test('retries a PATCH refused by API throttling', async () => {
    // Arrange
    kit.server.faults.add({ method: 'PATCH', status: 429, times: 2 });
    // Act
    const outcome = await cordonNode(kit.kube, NODE, 'abc123');
    // Assert
    expect(outcome).toBe('cordoned');
    expect(kit.server.countRequests({ method: 'PATCH' })).toBe(3);
  });

  /** A client that lets another writer label the node just before each of our first `races` cordon PATCHes. */
  function racedBy(races: number): KubeClient {
    let left = races;
    const raced = Object.create(kit.kube) as KubeClient;
    raced.call = async (what, fn) => {
      if (what.startsWith('cordon') && left-- > 0) {
        const labels = { [`team-${left}`]: 'x' };
        await kit.kube.call('other writer', ({ core }, options) =>
          core.patchNode({ name: NODE, body: { metadata: { labels } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch, options)));
      }
      return kit.kube.call(what, fn);
    };
    return raced;
  }

  test('a concurrent writer (the resourceVersion test fails: 422) makes it read the node again', async () => {
    // Act
    const outcome = await cordonNode(racedBy(1), NODE, 'abc123');
    // Assert
    expect(outcome).toBe('cordoned');
    expect(kit.server.node(NODE).metadata.labels).toHaveProperty('team-0', 'x');
    expect(kit.server.node(NODE).spec.unschedulable).toBe(true);
    expect(kit.server.countRequests({ verb: 'get' })).toBe(2);
  });

  test('gives up with a retryable 409 when the node keeps changing', async () => {
    // Act
    const attempt = cordonNode(racedBy(5), NODE, 'abc123');
    // Assert
    await expect(attempt).rejects.toMatchObject({ status: 409, retryable: true, message: expect.stringContaining('kept changing') });
    expect(kit.server.node(NODE).spec.unschedulable).toBeFalsy();
  });
});

describe('uncordonNode', () => {
  let kit: Kit;
  beforeEach(async () => (kit = await startKit()));
  afterEach(() => kit.server.stop());

  test('lifts exactly what cordonNode added', async () => {
    // Arrange
    await cordonNode(kit.kube, NODE, 'abc123');
    // Act
    const outcome = await uncordonNode(kit.kube, NODE);
    // Assert
    expect(outcome).toBe('uncordoned');
    const node = kit.server.node(NODE);
    expect(node.spec.unschedulable).toBeFalsy();
    expect((node.spec.taints ?? []).some((t: { key: string }) => t.key === DRAIN_TAINT_KEY)).toBe(false);
    expect(node.metadata.labels).not.toHaveProperty(EXCLUDE_FROM_LB_LABEL);
  });

  test("leaves a cordon that is not ours alone", async () => {
    // Arrange: someone cordoned the node by hand (no taint of ours)
    await kit.kube.call('cordon', ({ core }, options) => core.patchNode({ name: NODE, body: [{ op: 'add', path: '/spec/unschedulable', value: true }] }, options));
    // Act
    const outcome = await uncordonNode(kit.kube, NODE);
    // Assert
    expect(outcome).toBe('not-ours');
    expect(kit.server.node(NODE).spec.unschedulable).toBe(true);
  });
});
