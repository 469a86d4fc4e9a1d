import { isTerminating, KubeObject } from './objects';

/**
 * Server-side printing: `kubectl get` asks for `as=Table` and prints the rows
 * as given (it has no client-side printers for built-in types any more).
 * Columns with priority 1 appear only with `-o wide`.
 */

interface Column { name: string; type: string; priority?: number }

const podColumns: Column[] = [
  { name: 'Name', type: 'string' }, { name: 'Ready', type: 'string' }, { name: 'Status', type: 'string' },
  { name: 'Restarts', type: 'string' }, { name: 'Age', type: 'string' },
  { name: 'IP', type: 'string', priority: 1 }, { name: 'Node', type: 'string', priority: 1 },
  { name: 'Nominated Node', type: 'string', priority: 1 }, { name: 'Readiness Gates', type: 'string', priority: 1 },
];

const nodeColumns: Column[] = [
  { name: 'Name', type: 'string' }, { name: 'Status', type: 'string' }, { name: 'Roles', type: 'string' },
  { name: 'Age', type: 'string' }, { name: 'Version', type: 'string' },
  { name: 'Internal-IP', type: 'string', priority: 1 }, { name: 'External-IP', type: 'string', priority: 1 },
  { name: 'OS-Image', type: 'string', priority: 1 }, { name: 'Kernel-Version', type: 'string', priority: 1 },
  { name: 'Container-Runtime', type: 'string', priority: 1 },
];

const genericColumns: Column[] = [{ name: 'Name', type: 'string' }, { name: 'Age', type: 'string' }];

/** Kubernetes' short duration: 45s, 3m12s, 5h, 2d. */
function age(created: string, now: number): string {
  const s = Math.max(0, Math.floor((now - Date.parse(created)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 600) return `${Math.floor(s / 60)}m${s % 60}s`;
  if (s < 3 * 3600) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function podCells(pod: KubeObject, now: number): unknown[] {
  const statuses = pod.status?.containerStatuses ?? [];
  const ready = statuses.filter((c: { ready: boolean }) => c.ready).length;
  const status = isTerminating(pod) ? 'Terminating' : pod.status?.phase ?? 'Unknown';
  return [pod.metadata.name, `${ready}/${pod.spec.containers.length}`, status, 0, age(pod.metadata.creationTimestamp, now),
    pod.status?.podIP ?? '<none>', pod.spec.nodeName ?? '<none>', '<none>', '<none>'];
}

function nodeCells(node: KubeObject, now: number): unknown[] {
  const address = (type: string) => node.status.addresses.find((a: { type: string }) => a.type === type)?.address ?? '<none>';
  const readyCondition = node.status.conditions.find((c: { type: string }) => c.type === 'Ready');
  const status = [readyCondition?.status === 'True' ? 'Ready' : 'NotReady', ...(node.spec.unschedulable ? ['SchedulingDisabled'] : [])].join(',');
  const info = node.status.nodeInfo;
  return [node.metadata.name, status, '<none>', age(node.metadata.creationTimestamp, now), info.kubeletVersion,
    address('InternalIP'), address('ExternalIP'), info.osImage, info.kernelVersion, info.containerRuntimeVersion];
}

/** A meta.k8s.io/v1 Table of `objects`; rows carry the object's metadata, or the whole object on request. */
export function toTable(objects: KubeObject[], resourceVersion: string, now: number, includeObject: string | undefined) {
  const kind = objects[0]?.kind;
  const [columns, cells] = kind === 'Pod' ? [podColumns, podCells]
    : kind === 'Node' ? [nodeColumns, nodeCells]
      : [genericColumns, (o: KubeObject, t: number) => [o.metadata.name, age(o.metadata.creationTimestamp, t)]];
  const rowObject = (o: KubeObject) => includeObject === 'Object' ? o
    : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: columns.map((c) => ({ name: c.name, type: c.type, format: c.name === 'Name' ? 'name' : '', description: '', priority: c.priority ?? 0 })),
    rows: objects.map((o) => ({ cells: cells(o, now), object: rowObject(o) })),
  };
}

/** Whether the client asked for server-side printing. */
export const wantsTable = (accept: string | undefined): boolean => /as=Table/.test(accept ?? '');
