/**
 * Builds a simulated world for workflow tests and the rehearsal: a virtual
 * clock, the fake Kubernetes API server, an Auto Scaling group with a hook,
 * and the local workflow running the synthesized state machine.
 */
import { FakeAutoScaling } from '../aws/auto-scaling';
import { FakeKubeServer } from '../kube/server';
import { VirtualClock } from '../virtual-clock';
import { LocalWorkflow, type LocalWorkflowOptions } from './local-workflow';

export const ASG = 'test-asg';
export const HOOK = 'eks-graceful-drain';
export const LAUNCH_HOOK = 'eks-graceful-drain-launch';

export interface World {
  clock: VirtualClock;
  kube: FakeKubeServer;
  asg: FakeAutoScaling;
  workflow: LocalWorkflow;
  /** Adds a node for an instance of the group, with its private DNS name known to EC2 (`spot`: a Spot instance). */
  addNode(name: string, instanceId: string, options?: { spot?: boolean }): void;
  /** Terminates the instance: starts a lifecycle action and delivers its event. */
  terminate(instanceId: string): Promise<ReturnType<FakeAutoScaling['terminate']>>;
  close(): Promise<void>;
}

export async function createWorld(
  options: { heartbeatTimeoutSeconds?: number; workflow?: Omit<LocalWorkflowOptions, 'clock' | 'kube'> } = {},
): Promise<World> {
  const clock = new VirtualClock(Date.parse('2026-01-01T00:00:00Z'), { autoAdvance: true });
  const kube = await FakeKubeServer.start({ clock });
  const asg = new FakeAutoScaling(clock)
    .addHook({ autoScalingGroupName: ASG, lifecycleHookName: HOOK, heartbeatTimeoutSeconds: options.heartbeatTimeoutSeconds ?? 1800 })
    .addHook({ autoScalingGroupName: ASG, lifecycleHookName: LAUNCH_HOOK, heartbeatTimeoutSeconds: 300, transition: 'autoscaling:EC2_INSTANCE_LAUNCHING' })
    .install();
  const workflow = new LocalWorkflow({
    clock,
    kube,
    ...options.workflow,
    props: { clusterName: 'test-cluster', autoScalingGroupNames: [ASG], heartbeatTimeoutSeconds: options.heartbeatTimeoutSeconds ?? 1800, ...options.workflow?.props },
  });
  return {
    clock,
    kube,
    asg,
    workflow,
    addNode(name, instanceId, nodeOptions = {}) {
      kube.addNode({ name, instanceId });
      asg.addInstance(instanceId, name, { group: ASG, spot: nodeOptions.spot });
    },
    async terminate(instanceId) {
      const started = asg.terminate(ASG, HOOK, instanceId);
      await workflow.deliver(started.event);
      return started;
    },
    async close() {
      workflow.restore();
      asg.uninstall();
      await kube.stop();
    },
  };
}
