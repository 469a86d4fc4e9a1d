/**
 * Shapes and factories of the Kubernetes objects the fake serves, as plain
 * JSON the way the API server writes it.
 */

export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: OwnerReference[];
    deletionTimestamp?: string;
    deletionGracePeriodSeconds?: number;
    [key: string]: unknown;
  };
  spec?: any;
  status?: any;
  [key: string]: unknown;
};

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** An API error the server turns into a Status object. */
export class KubeError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  static notFound(resource: string, name: string, group?: string): KubeError {
    const qualified = group ? `${resource}.${group}` : resource;
    return new KubeError(404, 'NotFound', `${qualified} "${name}" not found`, { name, kind: resource, ...(group ? { group } : {}) });
  }

  static badRequest(message: string): KubeError {
    return new KubeError(400, 'BadRequest', message);
  }
}

/** The Status body of every error and of a successful eviction. */
export function statusObject(code: number, reason: string, message: string, details?: Record<string, unknown>) {
  const success = code < 400;
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: success ? 'Success' : 'Failure',
    ...(success ? {} : { message, reason }),
    ...(details ? { details } : {}),
    code,
  };
}

/** RFC 3339 with whole seconds, as the API server serialises metav1.Time. */
export const rfc3339 = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/** Deterministic ids and name suffixes, so a failing test reads the same every run. */
export class Ids {
  private n = 0;

  uid(): string {
    this.n++;
    return `00000000-0000-4000-8000-${this.n.toString(16).padStart(12, '0')}`;
  }

  /** Five characters from the alphabet Kubernetes uses for generated names. */
  suffix(): string {
    this.n++;
    const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
    let x = this.n * 7919 + 104729;
    let s = '';
    for (let i = 0; i < 5; i++) {
      s += alphabet[x % alphabet.length];
      x = Math.floor(x / alphabet.length) + i * 31;
    }
    return s;
  }

  /** A stable 10-character hash, as a ReplicaSet name carries its pod-template-hash. */
  hash(): string {
    return (this.suffix() + this.suffix()).slice(0, 10);
  }
}

export const controllerOf = (o: KubeObject): OwnerReference | undefined =>
  o.metadata.ownerReferences?.find((r) => r.controller);

export const isTerminating = (pod: KubeObject): boolean => pod.metadata.deletionTimestamp !== undefined;

export const isMirrorPod = (pod: KubeObject): boolean =>
  pod.metadata.annotations?.['kubernetes.io/config.mirror'] !== undefined;

export const isReady = (pod: KubeObject): boolean =>
  (pod.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');

/** Healthy in the sense of the disruption controller: Running, Ready and not being deleted. */
export const isHealthy = (pod: KubeObject): boolean =>
  !isTerminating(pod) && pod.status?.phase === 'Running' && isReady(pod);

/** `namespace/name`, or the bare name of a cluster-scoped object. */
export const keyOf = (o: { metadata: { namespace?: string; name: string } }): string =>
  (o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name);

/** Priority values of the two built-in critical classes. */
export const builtinPriorities: Record<string, number> = {
  'system-cluster-critical': 2000000000,
  'system-node-critical': 2000001000,
};
