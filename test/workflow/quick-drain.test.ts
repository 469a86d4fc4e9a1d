import { createWorld, type World } from '../../sim/workflow/scenario';

describe('workflow: a quick drain', () => {
  let world: World;
  afterEach(() => world?.close());

  test('cordons, evicts the web pods behind their PDB, leaves DaemonSet and mirror pods, completes with CONTINUE', async () => {
    // Arrange
    world = await createWorld();
    world.addNode('ip-10-0-0-1.ec2.internal', 'i-0aaaaaaaaaaaaaaa1');
    world.addNode('ip-10-0-0-2.ec2.internal', 'i-0aaaaaaaaaaaaaaa2');
    world.kube.addDeployment({ namespace: 'shop', name: 'web', replicas: 3, nodeName: 'ip-10-0-0-1.ec2.internal', labels: { app: 'web' } });
    world.kube.addPdb({ namespace: 'shop', name: 'web', selector: { matchLabels: { app: 'web' } }, maxUnavailable: 1 });
    world.kube.addDaemonSet({ namespace: 'kube-system', name: 'aws-node', nodes: ['ip-10-0-0-1.ec2.internal', 'ip-10-0-0-2.ec2.internal'], tolerations: [{ operator: 'Exists' }] });
    world.kube.addMirrorPod({ nodeName: 'ip-10-0-0-1.ec2.internal', name: 'kube-proxy' });

    // Act
    const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    await world.workflow.idle();

    // Assert
    const [execution] = world.workflow.executions.values();
    expect(execution.status).toBe('SUCCEEDED');
    expect(action.end).toMatchObject({ how: 'completed', result: 'CONTINUE' });
    const left = world.kube.pods({ nodeName: 'ip-10-0-0-1.ec2.internal' }).map((p) => p.metadata.name).sort();
    expect(left).toHaveLength(2);
    expect(left.some((n) => n.startsWith('aws-node'))).toBe(true);
    expect(left.some((n) => n.startsWith('kube-proxy'))).toBe(true);
    const node = world.kube.node('ip-10-0-0-1.ec2.internal');
    expect(node.spec.unschedulable).toBe(true);
    expect(node.spec.taints).toEqual(expect.arrayContaining([expect.objectContaining({ key: 'eks-graceful-drain/draining', effect: 'NoSchedule' })]));
    expect((execution.output as { result: unknown }).result).toMatchObject({ lifecycleResult: 'CONTINUE', reason: 'drained', outcome: 'completed' });
  });
});
