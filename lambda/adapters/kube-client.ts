/**
 * The Kubernetes side of the drain, over the real @kubernetes/client-node.
 * This file owns the connection (endpoint + CA + a bearer token that is
 * refreshed by its provider), error mapping, and bounded retries; kube-nodes.ts
 * and kube-drain.ts build the drain on top of it.
 */
import * as k8s from '@kubernetes/client-node';
import type { Clock } from '../core/clock';
import type { LabelSelector, PdbView, PodView } from '../core/kube-types';
import { KubeApiError } from './errors';

export interface KubeCredentials {
  endpoint: string;
  /** Base64 PEM of the cluster CA, as eks:DescribeCluster returns it. */
  caData: string;
  token: string;
}

// Defined with the other error classes, so that code that only tells errors
// apart (workflow-step) does not pull in the Kubernetes client.
export { KubeApiError };

/** Options every API call takes: a time limit, so a hung request cannot outlive the Lambda. */
export type RequestOptions = k8s.ConfigurationOptions;

/**
 * Longest one request may take. client-node passes no signal to fetch, and
 * undici waits 300 s for headers: a stalled API server would otherwise run the
 * Lambda into its own timeout instead of into our retries.
 */
export const REQUEST_TIMEOUT_MS = 15_000;

export interface RetryOptions {
  clock: Clock;
  /** Give up retrying past this moment (ms epoch): the Lambda's remaining time. */
  until: () => number;
  maxAttempts?: number;
}

export interface ApiStatus {
  code?: number;
  reason?: string;
  message?: string;
  details?: { causes?: Array<{ reason?: string; message?: string }> };
}

export class KubeClient {
  private apis?: {
    token: string;
    core: k8s.CoreV1Api;
    policy: k8s.PolicyV1Api;
    apps: k8s.AppsV1Api;
    storage: k8s.StorageV1Api;
    batch: k8s.BatchV1Api;
    config: k8s.KubeConfig;
  };

  constructor(
    private readonly credentials: () => Promise<KubeCredentials>,
    readonly retry: RetryOptions,
  ) {}

  /** The typed APIs, rebuilt when the token provider hands out a new token. */
  async connect() {
    const { endpoint, caData, token } = await this.credentials();
    if (this.apis?.token !== token) {
      const config = new k8s.KubeConfig();
      config.loadFromOptions({
        clusters: [{ name: 'eks', server: endpoint, caData, skipTLSVerify: false }],
        users: [{ name: 'drain', token }],
        contexts: [{ name: 'drain', cluster: 'eks', user: 'drain' }],
        currentContext: 'drain',
      });
      this.apis = {
        token,
        config,
        core: config.makeApiClient(k8s.CoreV1Api),
        policy: config.makeApiClient(k8s.PolicyV1Api),
        apps: config.makeApiClient(k8s.AppsV1Api),
        storage: config.makeApiClient(k8s.StorageV1Api),
        batch: config.makeApiClient(k8s.BatchV1Api),
      };
    }
    return this.apis;
  }

  /**
   * Runs `op` and retries it on throttling (429 that is not a PDB refusal),
   * 5xx and broken connections, with full-jitter exponential backoff that
   * respects Retry-After, until `maxAttempts` or the time left runs out.
   */
  async call<T>(what: string, op: (apis: NonNullable<KubeClient['apis']>, options: RequestOptions) => Promise<T>): Promise<T> {
    const maxAttempts = this.retry.maxAttempts ?? 6;
    for (let attempt = 1; ; attempt++) {
      try {
        const left = this.retry.until() - this.retry.clock.now();
        return await this.withTimeLimit(Math.max(1_000, Math.min(REQUEST_TIMEOUT_MS, left)), async (options) =>
          op(await this.connect(), options),
        );
      } catch (err) {
        const failure = describeFailure(err);
        const backoff = Math.min(5_000, 250 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
        const wait = Math.max(backoff, failure.retryAfterMs ?? 0);
        const canRetry =
          failure.retryable && attempt < maxAttempts && this.retry.clock.now() + wait < this.retry.until();
        if (!canRetry) {
          throw new KubeApiError(`${what}: ${failure.summary}`, failure.status, failure.retryable, { cause: err });
        }
        await this.retry.clock.sleep(wait);
      }
    }
  }

  /** Runs one request with a time limit on the injected clock; the timer goes when the request does. */
  private async withTimeLimit<T>(ms: number, run: (options: RequestOptions) => Promise<T>): Promise<T> {
    const request = new AbortController();
    const timer = new AbortController();
    void this.retry.clock.sleep(ms, timer.signal).then(() => {
      if (!timer.signal.aborted) request.abort(new RequestTimeoutError(`request timed out after ${Math.round(ms / 1000)} s`));
    });
    try {
      return await run(abortWith(request.signal));
    } finally {
      timer.abort();
    }
  }
}

class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
}

/** Aborts the request with `signal`, as client-node middleware (its API takes Observable middleware). */
function abortWith(signal: AbortSignal): RequestOptions {
  return {
    middleware: [
      {
        pre: (context) => {
          context.setSignal(signal);
          return new k8s.Observable(Promise.resolve(context));
        },
        post: (response) => new k8s.Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

export interface FailureDescription {
  status?: number;
  retryable: boolean;
  retryAfterMs?: number;
  summary: string;
  body?: ApiStatus;
}

const CONNECTION_ERRORS = /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|EAI_AGAIN|socket hang up|fetch failed|other side closed|UND_ERR|RequestTimeoutError|request timed out/i;

/** Maps what the client library throws to a status and whether it is worth retrying. */
export function describeFailure(err: unknown): FailureDescription {
  if (err instanceof k8s.ApiException) {
    const body = parseStatus(err.body);
    const status = err.code;
    const retryAfter = Number(err.headers?.['retry-after']);
    const pdbRefusal = status === 429 && isDisruptionBudgetRefusal(body);
    return {
      status,
      body,
      // The 500 for a pod under several PDBs never fixes itself: not worth a retry.
      retryable: (status === 429 && !pdbRefusal) || (status >= 500 && !isMultiplePdbError(body)),
      retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
      summary: `HTTP ${status}${body?.reason ? ` ${body.reason}` : ''}: ${body?.message ?? 'no message'}`,
    };
  }
  const text = errorText(err);
  return { retryable: CONNECTION_ERRORS.test(text), summary: text };
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? `${err.message} (${(cause as { code?: string }).code ?? cause.message})` : err.message;
}

/** client-node 2.x hands the response body over as a JSON string. */
export function parseStatus(body: unknown): ApiStatus | undefined {
  if (typeof body === 'object' && body !== null) return body as ApiStatus;
  if (typeof body !== 'string') return undefined;
  try {
    return JSON.parse(body) as ApiStatus;
  } catch {
    return { message: body.slice(0, 200) };
  }
}

export function isMultiplePdbError(body: ApiStatus | undefined): boolean {
  return /more than one PodDisruptionBudget/i.test(body?.message ?? '');
}

/**
 * The 403 the NamespaceLifecycle admission plugin gives any create (evictions
 * included) in a namespace being deleted: its pods are going anyway. Any other
 * 403 (RBAC, an admission webhook) is an error someone must fix.
 */
export function isNamespaceTerminating(body: ApiStatus | undefined): boolean {
  return (
    (body?.details?.causes ?? []).some((c) => c.reason === 'NamespaceTerminating') ||
    /because it is being terminated/i.test(body?.message ?? '')
  );
}

export function isDisruptionBudgetRefusal(body: ApiStatus | undefined): boolean {
  return (
    (body?.details?.causes ?? []).some((c) => c.reason === 'DisruptionBudget') ||
    /disruption budget/i.test(body?.message ?? '')
  );
}

// ---------------------------------------------------------------------------
// Conversions from the client's objects to the policy's views.

const epoch = (t: Date | string | undefined): number | undefined =>
  t === undefined ? undefined : new Date(t).getTime();

export function toPodView(pod: k8s.V1Pod): PodView {
  const controller = pod.metadata?.ownerReferences?.find((o) => o.controller);
  return {
    namespace: pod.metadata?.namespace ?? 'default',
    name: pod.metadata?.name ?? '',
    uid: pod.metadata?.uid ?? '',
    phase: pod.status?.phase ?? 'Unknown',
    labels: pod.metadata?.labels ?? {},
    annotations: pod.metadata?.annotations ?? {},
    controllerKind: controller?.kind,
    controllerName: controller?.name,
    priorityClassName: pod.spec?.priorityClassName,
    deletionTimestamp: epoch(pod.metadata?.deletionTimestamp),
    terminationGracePeriodSeconds: pod.spec?.terminationGracePeriodSeconds ?? 30,
    hasEmptyDir: (pod.spec?.volumes ?? []).some((v) => v.emptyDir !== undefined),
    ready: (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    tolerations: (pod.spec?.tolerations ?? []).map((t) => ({
      ...(t.key ? { key: t.key } : {}),
      ...(t.operator ? { operator: t.operator } : {}),
      ...(t.value ? { value: t.value } : {}),
      ...(t.effect ? { effect: t.effect } : {}),
    })),
    ...(pod.metadata?.deletionGracePeriodSeconds !== undefined
      ? { deletionGracePeriodSeconds: pod.metadata.deletionGracePeriodSeconds }
      : {}),
    claimNames: (pod.spec?.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : [])),
  };
}

export function toPdbView(pdb: k8s.V1PodDisruptionBudget): PdbView {
  return {
    namespace: pdb.metadata?.namespace ?? 'default',
    name: pdb.metadata?.name ?? '',
    // A policy/v1 PDB without a selector selects nothing ("In" no value); {} selects every pod.
    selector: (pdb.spec?.selector as LabelSelector | undefined) ?? { matchExpressions: [{ key: 'none', operator: 'In', values: [] }] },
    disruptionsAllowed: pdb.status?.disruptionsAllowed ?? 0,
    currentHealthy: pdb.status?.currentHealthy ?? 0,
    desiredHealthy: pdb.status?.desiredHealthy ?? 0,
    unhealthyPodEvictionPolicy: pdb.spec?.unhealthyPodEvictionPolicy === 'AlwaysAllow' ? 'AlwaysAllow' : 'IfHealthyBudget',
    // A PDB the disruption controller has not processed yet has no observedGeneration at all.
    statusStale: (pdb.status?.observedGeneration ?? 0) < (pdb.metadata?.generation ?? 0),
  };
}
