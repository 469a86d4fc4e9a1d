/**
 * Finding the node of an instance, cordoning it, and lifting our cordon when
 * the instance comes back from a warm pool.
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
  matchedBy: 'privateDnsName' | 'providerID';
  /** The node as the lookup read it (cordonNode starts from it rather than reading it again). */
  object?: k8s.V1Node;
}

/**
 * The node of an instance, always verified by spec.providerID
 * (aws:///<az>/<instance-id>): a GET of each candidate name — the node a
 * previous step found, then the instance's private DNS name (the node name on
 * EKS AMIs) — and, only if none is the instance's and `list` allows it, a paged
 * LIST of all nodes (nodes have no field selector for providerID). No such
 * node is a normal outcome: undefined. A node without a providerID is never
 * taken for ours, whatever its name.
 */
export async function findNode(
  kube: KubeClient,
  instanceId: string,
  privateDnsName?: () => Promise<string | undefined>,
  options: { candidates?: Array<string | null | undefined>; list?: boolean } = {},
): Promise<FoundNode | undefined> {
  const tried = new Set<string>();
  const tryName = async (name: string | null | undefined, matchedBy: FoundNode['matchedBy']): Promise<FoundNode | undefined> => {
    if (!name || tried.has(name) || !NODE_NAME.test(name)) return undefined;
    tried.add(name);
    const node = await getNode(kube, name);
    return node && providerIdMatches(node.spec?.providerID, instanceId) ? { name, matchedBy, object: node } : undefined;
  };
  for (const candidate of options.candidates ?? []) {
    const found = await tryName(candidate, 'providerID');
    if (found) return found;
  }
  const found = await tryName(privateDnsName ? await privateDnsName() : undefined, 'privateDnsName');
  if (found || options.list === false) return found;
  let continueToken: string | undefined;
  do {
    const page = await kube.call('list nodes', ({ core }, options) =>
      core.listNode({ limit: PAGE_SIZE, _continue: continueToken }, options),
    );
    const match = page.items.find((n) => providerIdMatches(n.spec?.providerID, instanceId));
    if (match?.metadata?.name) return { name: match.metadata.name, matchedBy: 'providerID', object: match };
    continueToken = page.metadata?._continue || undefined;
  } while (continueToken);
  return undefined;
}

/** A Kubernetes node name (DNS subdomain): anything else is not worth a request. */
const NODE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

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
 * `current`: the node as just read (by the lookup), saving the first GET.
 */
export async function cordonNode(kube: KubeClient, name: string, taintValue: string, current?: k8s.V1Node): Promise<CordonOutcome> {
  return guardedNodePatch(kube, name, 'cordon', (node) => cordonPatch(node, taintValue), { done: 'cordoned', nothingToDo: 'already-cordoned' }, current);
}

/**
 * Reads the node, builds a JSON patch from it (guarded by its resourceVersion)
 * and sends it; a concurrent writer (409/422) makes us read again, five times
 * at most. An empty patch means there is nothing to change. `current`: the
 * node as just read, for the first attempt.
 */
async function guardedNodePatch<Done extends string, Nothing extends string>(
  kube: KubeClient,
  name: string,
  verb: string,
  build: (node: k8s.V1Node) => JsonPatchOp[],
  outcomes: { done: Done; nothingToDo: Nothing },
  current?: k8s.V1Node,
): Promise<Done | Nothing | 'node-gone'> {
  for (let attempt = 1; attempt <= 5; attempt++) {
    const node = attempt === 1 && current?.metadata?.name === name ? current : await getNode(kube, name);
    if (!node) return 'node-gone';
    const patch = build(node);
    if (patch.length === 0) return outcomes.nothingToDo;
    try {
      await kube.call(`${verb} ${name}`, ({ core }, options) => core.patchNode({ name, body: patch }, options));
      return outcomes.done;
    } catch (err) {
      if (err instanceof KubeApiError && (err.status === 409 || err.status === 422)) continue;
      if (err instanceof KubeApiError && err.status === 404) return 'node-gone';
      throw err;
    }
  }
  // Five conflicts in a row: retryable, the state machine's Retry tries again later.
  throw new KubeApiError(`${verb} ${name}: the node kept changing under us`, 409, true);
}

export type UncordonOutcome = 'uncordoned' | 'not-ours' | 'node-gone';

/**
 * Lifts what cordonNode added — our taint, unschedulable, the
 * exclude-from-load-balancers label — so the node takes pods again. Only a
 * node that carries our taint is touched: a cordon someone else set stays.
 * Guarded by the resourceVersion like the cordon.
 */
export async function uncordonNode(kube: KubeClient, name: string): Promise<UncordonOutcome> {
  return guardedNodePatch(kube, name, 'uncordon', uncordonPatch, { done: 'uncordoned', nothingToDo: 'not-ours' });
}

export function uncordonPatch(node: k8s.V1Node): JsonPatchOp[] {
  const taints = node.spec?.taints ?? [];
  if (!taints.some((t) => t.key === DRAIN_TAINT_KEY)) return [];
  // Remove our taint by its index (tested), leaving the others untouched: rewriting
  // the list would re-serialize their timeAdded, which is not ours to change.
  const index = taints.findIndex((t) => t.key === DRAIN_TAINT_KEY);
  const ops: JsonPatchOp[] = [
    { op: 'test', path: '/metadata/resourceVersion', value: node.metadata?.resourceVersion },
    { op: 'test', path: `/spec/taints/${index}/key`, value: DRAIN_TAINT_KEY },
    { op: 'remove', path: `/spec/taints/${index}` },
  ];
  if (node.spec?.unschedulable) ops.push({ op: 'replace', path: '/spec/unschedulable', value: false });
  if (node.metadata?.labels?.[EXCLUDE_FROM_LB_LABEL] !== undefined) {
    ops.push({ op: 'remove', path: `/metadata/labels/${EXCLUDE_FROM_LB_LABEL.replace('/', '~1')}` });
  }
  return ops;
}

type JsonPatchOp = { op: 'test' | 'add' | 'replace'; path: string; value: unknown } | { op: 'remove'; path: string };

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
