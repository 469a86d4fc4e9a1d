import { DRAIN_TAINT_KEY, EXCLUDE_FROM_LB_LABEL, cordonNode, findNode, uncordonNode } from '../../../lambda/adapters/kube-nodes';
import { INSTANCE, NODE, startKit, type Kit } from './kube-test-kit';

describe('findNode', () => {
  let kit: Kit;
  beforeEach(async () => (kit = await startKit()));
  afterEach(() => kit.server.stop());

  test('finds the node by spec.providerID', async () => {
    // Act
    const found = await findNode(kit.kube, INSTANCE);
    // Assert
    expect(found).toEqual({ name: NODE, matchedBy: 'providerID' });
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
    expect(found).toEqual({ name: NODE, matchedBy: 'privateDnsName' });
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

  test('a concurrent writer (409, or 422 from the failed resourceVersion test) makes it read the node again', async () => {
    // Arrange
    kit.server.faults.add({ method: 'PATCH', status: 409, times: 1 });
    kit.server.faults.add({ method: 'PATCH', status: 422, times: 1 });
    // Act
    const outcome = await cordonNode(kit.kube, NODE, 'abc123');
    // Assert
    expect(outcome).toBe('cordoned');
    expect(kit.server.countRequests({ method: 'PATCH' })).toBe(3);
    expect(kit.server.countRequests({ verb: 'get' })).toBe(3);
  });

  test('gives up with a retryable 409 when the node keeps changing', async () => {
    // Arrange
    kit.server.faults.add({ method: 'PATCH', status: 409, times: 5 });
    // Act
    const attempt = cordonNode(kit.kube, NODE, 'abc123');
    // Assert
    await expect(attempt).rejects.toMatchObject({ status: 409, message: expect.stringContaining('kept changing') });
    expect(kit.server.countRequests({ method: 'PATCH' })).toBe(5);
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
