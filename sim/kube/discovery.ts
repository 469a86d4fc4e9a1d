/**
 * Discovery documents: what kubectl and client libraries read before they
 * talk to a resource. kubectl drain also reads /api/v1 to check that the
 * pods/eviction subresource exists in policy/v1 before it evicts.
 */

export const versionInfo = {
  major: '1',
  minor: '31',
  gitVersion: 'v1.31.4-eks-2d5f260',
  gitCommit: '2d5f2601cb5f5ce0aa80e5e8a6e9a4d9a0b3c4d5',
  gitTreeState: 'clean',
  buildDate: '2025-01-01T00:00:00Z',
  goVersion: 'go1.22.9',
  compiler: 'gc',
  platform: 'linux/amd64',
};

interface Resource {
  name: string;
  singularName: string;
  namespaced: boolean;
  kind: string;
  verbs: string[];
  shortNames?: string[];
  group?: string;
  version?: string;
}

const readVerbs = ['get', 'list', 'watch'];

const coreResources: Resource[] = [
  { name: 'namespaces', singularName: 'namespace', namespaced: false, kind: 'Namespace', verbs: readVerbs, shortNames: ['ns'] },
  { name: 'nodes', singularName: 'node', namespaced: false, kind: 'Node', verbs: [...readVerbs, 'patch'], shortNames: ['no'] },
  { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: [...readVerbs, 'delete'], shortNames: ['po'] },
  { name: 'persistentvolumeclaims', singularName: 'persistentvolumeclaim', namespaced: true, kind: 'PersistentVolumeClaim', verbs: ['get', 'list'], shortNames: ['pvc'] },
  // kubectl's CheckEvictionSupport looks for exactly this entry.
  { name: 'pods/eviction', singularName: '', namespaced: true, group: 'policy', version: 'v1', kind: 'Eviction', verbs: ['create'] },
];

const groups: Record<string, Resource[]> = {
  'apps/v1': [
    { name: 'daemonsets', singularName: 'daemonset', namespaced: true, kind: 'DaemonSet', verbs: readVerbs, shortNames: ['ds'] },
    { name: 'deployments', singularName: 'deployment', namespaced: true, kind: 'Deployment', verbs: readVerbs, shortNames: ['deploy'] },
    { name: 'replicasets', singularName: 'replicaset', namespaced: true, kind: 'ReplicaSet', verbs: readVerbs, shortNames: ['rs'] },
  ],
  'batch/v1': [
    { name: 'cronjobs', singularName: 'cronjob', namespaced: true, kind: 'CronJob', verbs: readVerbs, shortNames: ['cj'] },
    { name: 'jobs', singularName: 'job', namespaced: true, kind: 'Job', verbs: readVerbs },
  ],
  'storage.k8s.io/v1': [
    { name: 'volumeattachments', singularName: 'volumeattachment', namespaced: false, kind: 'VolumeAttachment', verbs: readVerbs },
  ],
  'coordination.k8s.io/v1': [
    { name: 'leases', singularName: 'lease', namespaced: true, kind: 'Lease', verbs: ['create', 'delete', 'get', 'list', 'update'] },
  ],
  'policy/v1': [
    { name: 'poddisruptionbudgets', singularName: 'poddisruptionbudget', namespaced: true, kind: 'PodDisruptionBudget', verbs: readVerbs, shortNames: ['pdb'] },
  ],
};

const resourceList = (groupVersion: string, resources: Resource[]) => ({ kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources });

/** The discovery document at `path`, or undefined when the path is not a discovery path. */
export function discoveryDocument(path: string, serverAddress: string, version: typeof versionInfo = versionInfo): unknown {
  if (path === '/version') return version;
  // Answering the legacy shapes with Content-Type application/json makes
  // kubectl fall back from aggregated discovery (apidiscovery.k8s.io/v2).
  if (path === '/api') {
    return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
  }
  if (path === '/apis') {
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: Object.keys(groups).map((gv) => {
        const [name, version] = gv.split('/');
        const v = { groupVersion: gv, version };
        return { name, versions: [v], preferredVersion: v };
      }),
    };
  }
  if (path === '/api/v1') return resourceList('v1', coreResources);
  const group = /^\/apis\/([^/]+\/[^/]+)$/.exec(path)?.[1];
  if (group && groups[group]) return resourceList(group, groups[group]);
  return undefined;
}
