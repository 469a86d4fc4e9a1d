/**
 * coordination.k8s.io/v1 Leases, with the optimistic concurrency of the real
 * API server (k8s.io/apiserver registry/generic/registry/store.go and
 * pkg/registry/coordination/lease/strategy.go):
 * - POST of an existing name: 409 AlreadyExists;
 * - PUT without metadata.resourceVersion: 422 (AllowUnconditionalUpdate is
 *   false for leases); with a stale one: 409 Conflict, "the object has been
 *   modified"; of a name that does not exist: created (AllowCreateOnUpdate is
 *   true for leases), 201;
 * - DELETE honours a resourceVersion precondition (409 on mismatch).
 * The server never looks at renewTime: a Lease expires only in the eyes of
 * the clients that read it, so the fake does not either.
 */
import { KubeError, KubeObject, rfc3339 } from './objects';
import type { SimClock } from '../virtual-clock';

const GROUP = 'coordination.k8s.io';
const RESOURCE = 'leases';

export interface LeaseDeps {
  clock: SimClock;
  /** The cluster's next resourceVersion: one counter for every object, as etcd's revision. */
  nextResourceVersion(): number;
  uid(): string;
}

export class LeaseStore {
  private readonly leases = new Map<string, KubeObject>();

  constructor(private readonly deps: LeaseDeps) {}

  list(namespace?: string): KubeObject[] {
    return [...this.leases.values()].filter((l) => !namespace || l.metadata.namespace === namespace).map(clone);
  }

  get(namespace: string, name: string): KubeObject {
    const lease = this.leases.get(`${namespace}/${name}`);
    if (!lease) throw KubeError.notFound(RESOURCE, name, GROUP);
    return clone(lease);
  }

  create(namespace: string, body: any): KubeObject {
    const name = body?.metadata?.name;
    validate(namespace, body, name);
    if (this.leases.has(`${namespace}/${name}`)) {
      throw new KubeError(409, 'AlreadyExists', `${RESOURCE}.${GROUP} "${name}" already exists`, { name, group: GROUP, kind: RESOURCE });
    }
    return this.store(namespace, name, body, undefined);
  }

  /** PUT: returns the lease and whether it was created (201) rather than updated (200). */
  update(namespace: string, name: string, body: any): { lease: KubeObject; created: boolean } {
    if (body?.metadata?.name !== name) {
      throw KubeError.badRequest(`the name of the object (${body?.metadata?.name ?? ''}) does not match the name on the URL (${name})`);
    }
    validate(namespace, body, name);
    const current = this.leases.get(`${namespace}/${name}`);
    if (!current) return { lease: this.store(namespace, name, body, undefined), created: true };
    const version = body.metadata.resourceVersion;
    if (version === undefined || version === '' || version === '0') {
      throw invalid(name, 'metadata.resourceVersion', 'Invalid value: 0x0: must be specified for an update');
    }
    if (version !== current.metadata.resourceVersion) throw conflict(name);
    return { lease: this.store(namespace, name, body, current), created: false };
  }

  delete(namespace: string, name: string, preconditions?: { resourceVersion?: string; uid?: string }): KubeObject {
    const current = this.leases.get(`${namespace}/${name}`);
    if (!current) throw KubeError.notFound(RESOURCE, name, GROUP);
    if (preconditions?.resourceVersion !== undefined && preconditions.resourceVersion !== current.metadata.resourceVersion) {
      throw new KubeError(409, 'Conflict', `Operation cannot be fulfilled on ${RESOURCE}.${GROUP} "${name}": the ResourceVersion in the precondition (${preconditions.resourceVersion}) does not match the ResourceVersion in record (${current.metadata.resourceVersion}). The object might have been modified`, { name, group: GROUP, kind: RESOURCE });
    }
    if (preconditions?.uid !== undefined && preconditions.uid !== current.metadata.uid) throw conflict(name);
    this.leases.delete(`${namespace}/${name}`);
    return clone(current);
  }

  private store(namespace: string, name: string, body: any, current: KubeObject | undefined): KubeObject {
    const lease: KubeObject = {
      apiVersion: `${GROUP}/v1`,
      kind: 'Lease',
      metadata: {
        ...(body.metadata.labels ? { labels: body.metadata.labels } : {}),
        ...(body.metadata.annotations ? { annotations: body.metadata.annotations } : {}),
        name,
        namespace,
        // Server-owned fields: never taken from the client.
        uid: current?.metadata.uid ?? this.deps.uid(),
        creationTimestamp: current?.metadata.creationTimestamp ?? rfc3339(this.deps.clock.now()),
        resourceVersion: String(this.deps.nextResourceVersion()),
      },
      spec: { ...(body.spec ?? {}) },
    };
    this.leases.set(`${namespace}/${name}`, lease);
    return clone(lease);
  }
}

/** The checks of ValidateLease that a client can trip. */
function validate(namespace: string, body: any, name: string | undefined): void {
  if (!name) throw invalid('', 'metadata.name', 'Required value: name or generateName is required');
  if (body.metadata.namespace !== undefined && body.metadata.namespace !== namespace) {
    throw KubeError.badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
  const duration = body.spec?.leaseDurationSeconds;
  if (duration !== undefined && !(Number.isInteger(duration) && duration > 0)) {
    throw invalid(name, 'spec.leaseDurationSeconds', `Invalid value: ${JSON.stringify(duration)}: must be greater than 0`);
  }
  const transitions = body.spec?.leaseTransitions;
  if (transitions !== undefined && !(Number.isInteger(transitions) && transitions >= 0)) {
    throw invalid(name, 'spec.leaseTransitions', `Invalid value: ${JSON.stringify(transitions)}: must be greater than or equal to 0`);
  }
  for (const field of ['acquireTime', 'renewTime'] as const) {
    const value = body.spec?.[field];
    if (value !== undefined && value !== null && (typeof value !== 'string' || Number.isNaN(Date.parse(value)))) {
      throw KubeError.badRequest(`Lease in version "v1" cannot be handled as a Lease: parsing time ${JSON.stringify(value)} failed`);
    }
  }
}

function invalid(name: string, field: string, detail: string): KubeError {
  return new KubeError(422, 'Invalid', `Lease.${GROUP} "${name}" is invalid: ${field}: ${detail}`, {
    name, group: GROUP, kind: 'Lease', causes: [{ reason: 'FieldValueInvalid', message: detail, field }],
  });
}

function conflict(name: string): KubeError {
  return new KubeError(409, 'Conflict', `Operation cannot be fulfilled on ${RESOURCE}.${GROUP} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, group: GROUP, kind: RESOURCE });
}

function clone<T>(value: T): T {
  return structuredClone(value);
}
