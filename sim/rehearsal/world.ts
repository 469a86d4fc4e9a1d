/**
 * Builds the simulated world of a scenario: the synthesized app with the
 * scenario's drain props, the Auto Scaling hook, the nodes and the workloads
 * on the fake Kubernetes API server.
 */
import type { FakeKubeServer } from '../kube/server';
import type { LocalWorkflowOptions } from '../workflow/local-workflow';
import { createWorld, type World } from '../workflow/scenario';
import type { Scenario } from './scenario-file';

export async function buildWorld(
  scenario: Scenario,
  workflow: Pick<LocalWorkflowOptions, 'observability' | 'onStateEntered'>,
): Promise<World> {
  const world = await createWorld({
    heartbeatTimeoutSeconds: scenario.hook.heartbeatTimeoutSeconds,
    workflow: { ...workflow, props: { maxDrainSeconds: scenario.drain.maxDrainSeconds, onDeadline: scenario.drain.onDeadline, waitForJobPods: scenario.drain.waitForJobPods, sweepIntervalMinutes: scenario.drain.sweepIntervalMinutes } },
  });
  try {
    populate(world, scenario);
  } catch (err) {
    await world.close();
    throw err;
  }
  return world;
}

function populate(world: World, scenario: Scenario): void {
  const { kube } = world;
  for (const node of scenario.nodes) world.addNode(node.name, node.instanceId, { spot: node.spot || node.interruptAfterSeconds !== undefined });
  const w = scenario.workloads;
  for (const d of w.deployments) {
    kube.addDeployment({
      namespace: d.namespace,
      name: d.name,
      replicas: d.replicas,
      ...(d.node ? { nodeName: d.node } : { nodes: d.nodes as string[] }),
      labels: d.labels,
      terminationGracePeriodSeconds: d.terminationGracePeriodSeconds,
      shutdownSeconds: d.shutdownSeconds,
      readyAfterSeconds: d.readyAfterSeconds,
      priorityClassName: d.priorityClassName,
      persistentVolume: d.persistentVolume,
      ...(d.toleratesDrain ? { tolerations: TOLERATE_ALL } : {}),
    });
  }
  for (const p of w.pdbs) {
    kube.addPdb({ namespace: p.namespace, name: p.name, selector: { matchLabels: p.selector }, minAvailable: p.minAvailable, maxUnavailable: p.maxUnavailable });
  }
  for (const d of w.daemonsets) {
    // Most system DaemonSets (aws-node, kube-proxy) tolerate every taint: the default here too.
    kube.addDaemonSet({
      namespace: d.namespace, name: d.name, nodes: d.nodes as string[],
      terminationGracePeriodSeconds: d.terminationGracePeriodSeconds, shutdownSeconds: d.shutdownSeconds,
      priorityClassName: d.priorityClassName,
      ...(d.toleratesDrain === false ? {} : { tolerations: TOLERATE_ALL }),
    });
  }
  for (const j of w.jobs) {
    kube.addJobPod({
      namespace: j.namespace,
      name: j.name,
      nodeName: j.node,
      terminationGracePeriodSeconds: j.terminationGracePeriodSeconds,
      shutdownSeconds: j.shutdownSeconds,
      priorityClassName: j.priorityClassName,
      ...(j.toleratesDrain ? { tolerations: TOLERATE_ALL } : {}),
      annotations: j.annotations,
      runSeconds: j.runSeconds,
      podReplacementPolicy: j.podReplacementPolicy,
      backoffLimit: j.backoffLimit,
    });
  }
  for (const m of w.mirrorPods) {
    // The kubelet names a mirror pod after its static manifest and its node.
    for (const node of m.nodes as string[]) kube.addMirrorPod({ nodeName: node, name: `${m.name}-${node}`, namespace: m.namespace });
  }
}

/** `tolerations: [{operator: Exists}]`: tolerates every taint, the drain's and the cordon's included. */
const TOLERATE_ALL = [{ operator: 'Exists' }];

/** Follows the cluster's changes (pod events with their resourceVersions). */
export function subscribeToCluster(kube: FakeKubeServer, listener: Parameters<FakeKubeServer['onChange']>[0]): () => void {
  return kube.onChange(listener);
}
