/**
 * Finding the node of an instance, and cordoning it.
 */
import * as k8s from '@kubernetes/client-node';
import { KubeApiError, type KubeClient } from './kube-client';

/** Our own NoSchedule taint: says who cordoned the node and why, and survives a careless uncordon. */
export { DRAIN_TAINT_KEY } from '../core/taints';
import { DRAIN_TAINT_KEY } from '../core/taints';
/** Takes the node out of load balancers' target groups (service controller and AWS LB controller). */
export const EXCLUDE_FROM_LB_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers';

const PAGE_SIZE = 500;

/** EKS sets spec.providerID to aws:///<az>/<instance-id>. */
export const providerIdMatches = (providerID: string | undefined, instanceId: string): boolean =>
  providerID !== undefined && providerID.startsWith('aws:///') && providerID.endsWith(`/${instanceId}`);

export interface FoundNode {
  name: string;
  matchedBy: 'providerID' | 'privateDnsName';
}

/**
 * The node of an instance: by spec.providerID over a paged LIST (nodes have no
 * field selector for it), else by the instance's private DNS name, which is the
 * node name on most EKS AMIs. No such node is a normal outcome: undefined.
 */
export async function findNode(
  kube: KubeClient,
  instanceId: string,
  privateDnsName?: () => Promise<string | undefined>,
): Promise<FoundNode | undefined> {
  let continueToken: string | undefined;
  do {
    const page = await kube.call('list nodes', ({ core }, options) =>
      core.listNode({ limit: PAGE_SIZE, _continue: continueToken }, options),
    );
    const match = page.items.find((n) => providerIdMatches(n.spec?.providerID, instanceId));
    if (match?.metadata?.name) return { name: match.metadata.name, matchedBy: 'providerID' };
    continueToken = page.metadata?._continue || undefined;
  } while (continueToken);

  const dnsName = privateDnsName ? await privateDnsName() : undefined;
  if (!dnsName) return undefined;
  const node = await getNode(kube, dnsName);
  // A node of that name that belongs to another instance is not ours.
  if (!node || (node.spec?.providerID && !providerIdMatches(node.spec.providerID, instanceId))) return undefined;
  return { name: dnsName, matchedBy: 'privateDnsName' };
}

export async function getNode(kube: KubeClient, name: string): Promise<k8s.V1Node | undefined> {
  try {
    return await kube.call(`get node ${name}`, ({ core }, options) => core.readNode({ name }, options));
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return undefined;
    throw err;
  }
}

export type CordonOutcome = 'cordoned' | 'already-cordoned' | 'node-gone';

/**
 * Marks the node unschedulable, adds our NoSchedule taint and the
 * exclude-from-load-balancers label. Idempotent: a second call changes nothing.
 * Taints have no merge key in a strategic-merge patch, so the whole list is
 * written with a JSON patch guarded by a `test` of the resourceVersion; a
 * concurrent writer makes it fail (409/422) and we read again.
 */
export async function cordonNode(kube: KubeClient, name: string, taintValue: string): Promise<CordonOutcome> {
  for (let attempt = 1; attempt <= 5; attempt++) {
    const node = await getNode(kube, name);
    if (!node) return 'node-gone';
    const patch = cordonPatch(node, taintValue);
    if (patch.length === 0) return 'already-cordoned';
    try {
      await kube.call(`cordon ${name}`, ({ core }, options) => core.patchNode({ name, body: patch }, options));
      return 'cordoned';
    } catch (err) {
      if (err instanceof KubeApiError && (err.status === 409 || err.status === 422) && attempt < 5) continue;
      if (err instanceof KubeApiError && err.status === 404) return 'node-gone';
      throw err;
    }
  }
  throw new KubeApiError(`cordon ${name}: the node kept changing under us`, 409, true);
}

type JsonPatchOp = { op: 'test' | 'add' | 'replace'; path: string; value: unknown };

export function cordonPatch(node: k8s.V1Node, taintValue: string): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [];
  if (!node.spec?.unschedulable) ops.push({ op: 'add', path: '/spec/unschedulable', value: true });
  const taints = node.spec?.taints ?? [];
  if (!taints.some((t) => t.key === DRAIN_TAINT_KEY)) {
    const taint = { key: DRAIN_TAINT_KEY, value: taintValue, effect: 'NoSchedule' };
    ops.push({ op: 'add', path: '/spec/taints', value: [...taints, taint] });
  }
  if (node.metadata?.labels?.[EXCLUDE_FROM_LB_LABEL] === undefined) {
    ops.push(
      node.metadata?.labels
        ? { op: 'add', path: `/metadata/labels/${EXCLUDE_FROM_LB_LABEL.replace('/', '~1')}`, value: 'true' }
        : { op: 'add', path: '/metadata/labels', value: { [EXCLUDE_FROM_LB_LABEL]: 'true' } },
    );
  }
  if (ops.length === 0) return ops;
  return [{ op: 'test', path: '/metadata/resourceVersion', value: node.metadata?.resourceVersion }, ...ops];
}
