import { DRAIN_TAINT_KEY, EXCLUDE_FROM_LB_LABEL, cordonNode, findNode } from '../../../lambda/adapters/kube-nodes';
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

  test("falls back to the private DNS name, but not onto another instance's node", async () => {
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
});
