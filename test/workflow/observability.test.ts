import { createWorld, type World } from '../../sim/workflow/scenario';

const NODE = 'ip-10-0-0-1.ec2.internal';

describe('workflow: logs and metrics of a drain', () => {
  let world: World;
  afterEach(() => world?.close());

  test('EMF metrics carry the drain figures with the ASG dimension; every step logs the drain keys and never the token', async () => {
    // Arrange: 3 web pods behind a PDB, a pod under two PDBs (misconfigured), a job pod that would need 83 min (longer than the drain may take)
    world = await createWorld({ workflow: { props: { maxDrainSeconds: 3600, onDeadline: 'force-delete' } } });
    world.addNode(NODE, 'i-0aaaaaaaaaaaaaaa1');
    world.addNode('ip-10-0-0-2.ec2.internal', 'i-0aaaaaaaaaaaaaaa2');
    world.kube.addDeployment({ namespace: 'shop', name: 'web', replicas: 3, nodeName: NODE, labels: { app: 'web' } });
    world.kube.addPdb({ namespace: 'shop', name: 'web', selector: { matchLabels: { app: 'web' } }, maxUnavailable: 1 });
    world.kube.addDeployment({ namespace: 'shop', name: 'api', replicas: 1, nodeName: NODE, labels: { app: 'api', tier: 'x' } });
    world.kube.addPdb({ namespace: 'shop', name: 'api-a', selector: { matchLabels: { app: 'api' } }, maxUnavailable: 1 });
    world.kube.addPdb({ namespace: 'shop', name: 'api-b', selector: { matchLabels: { tier: 'x' } }, maxUnavailable: 1 });
    world.kube.addJobPod({ namespace: 'batch', name: 'report', nodeName: NODE, terminationGracePeriodSeconds: 5000, shutdownSeconds: 5000 });

    // Act
    const { action } = await world.terminate('i-0aaaaaaaaaaaaaaa1');
    await world.workflow.idle();

    // Assert: metrics
    const { metricTotal, emf, logs } = world.workflow.observability;
    const asg = { AutoScalingGroupName: 'test-asg' };
    expect(metricTotal('DrainsStarted', asg)).toBe(1);
    expect(metricTotal('PodsEvicted', asg)).toBe(4);
    expect(metricTotal('PdbMisconfigurations', asg)).toBeGreaterThanOrEqual(1);
    expect(metricTotal('DeadlinesReached', asg)).toBe(1);
    // The misconfigured pod only: the job pod's eviction already carried a grace clamped to the hard limit.
    expect(metricTotal('PodsForceDeleted', asg)).toBe(1);
    expect(metricTotal('HeartbeatsSent', asg)).toBe(action.heartbeats.length);
    expect(metricTotal('DrainsNearDeadline', asg)).toBeGreaterThanOrEqual(1);
    expect(metricTotal('DrainsCompleted', { ...asg, Result: 'CONTINUE' })).toBe(1);
    const duration = emf.find((doc) => 'DrainDurationSeconds' in doc)!;
    expect(duration.DrainDurationSeconds).toBe(Math.round((action.end!.at - action.startedAt) / 1000));
    expect(duration).toMatchObject({ service: 'eks-graceful-drain', ...asg });
    for (const doc of emf) {
      expect(doc).not.toHaveProperty('instanceId');
      expect((doc._aws as { CloudWatchMetrics: Array<{ Namespace: string }> }).CloudWatchMetrics[0].Namespace).toBe('EksGracefulDrain');
    }

    // Assert: logs
    const stepLines = logs.filter((l) => typeof l.step === 'string');
    expect(new Set(stepLines.map((l) => l.step))).toEqual(new Set(['Prepare', 'Cordon', 'DrainStep', 'Heartbeat', 'ApplyDeadlinePolicy', 'Complete']));
    for (const line of stepLines) {
      expect(line).toMatchObject({ instanceId: 'i-0aaaaaaaaaaaaaaa1', autoScalingGroupName: 'test-asg', execution: expect.stringMatching(/^i-0aaaaaaaaaaaaaaa1-/) });
      // the rule's input transformer keeps the token in EventBridge: no hash of it either
      expect(line).not.toHaveProperty('tokenHash');
    }
    expect(stepLines.filter((l) => l.step !== 'Prepare').every((l) => l.node === NODE)).toBe(true);
    const everything = JSON.stringify([logs, emf]);
    expect(everything).not.toContain(action.token);
    expect(everything).not.toContain(world.kube.token);
    expect(everything).not.toMatch(/k8s-aws-v1\.|X-Amz-Signature|AKIDLOCAL|secretAccessKey/);
  });
});
