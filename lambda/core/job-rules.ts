/**
 * The audit's rules for CronJobs and Jobs: what a batch workload needs to
 * survive a node drain without running twice or being re-run after a
 * failure. Pure: views of the objects in, findings out (`npx eks-graceful-drain
 * audit` reads the cluster and prints them).
 *
 * Facts they rest on (kubernetes/kubernetes pkg/controller/job, pkg/apis/batch):
 * - backoffLimit defaults to 6: a failed pod is re-run up to 6 times.
 * - By default (podReplacementPolicy TerminatingOrFailed) the Job controller
 *   counts a terminating pod as failed at once and starts its replacement
 *   while the old pod still runs its grace period: two copies at once.
 *   `Failed` waits until the pod has stopped (beta and on by default in 1.29,
 *   GA in 1.34); it is the only value allowed with a podFailurePolicy.
 * - An evicted pod gets the condition DisruptionTarget, which a
 *   podFailurePolicy rule can match (Ignore: not counted, FailJob, Count).
 *   podFailurePolicy requires restartPolicy Never.
 * - A CronJob with concurrencyPolicy Allow (the default) starts the next run
 *   even while the previous one is still going.
 */

/** A CronJob (its jobTemplate) or a Job, as the audit sees it. */
export interface BatchWorkloadView {
  kind: 'CronJob' | 'Job';
  namespace: string;
  name: string;
  /** CronJobs only; the server defaults it to Allow. */
  concurrencyPolicy?: string;
  /** The server defaults it to 6. */
  backoffLimit: number;
  podFailurePolicy?: { rules: PodFailurePolicyRuleView[] };
  /** Absent on servers without the field (before 1.29 by default). */
  podReplacementPolicy?: string;
  restartPolicy?: string;
  /** The server defaults it to 30. */
  terminationGracePeriodSeconds: number;
  /** The pods are placed on Spot capacity (nodeSelector or required node affinity). */
  spot: boolean;
  /** Jobs of a CronJob (names), listed under it rather than audited again. */
  jobs?: string[];
}

export interface PodFailurePolicyRuleView {
  action: string;
  onPodConditions?: Array<{ type: string; status?: string }>;
  onExitCodes?: unknown;
}

export interface AuditSettings {
  /** The server knows spec.podReplacementPolicy (1.29 and later). */
  podReplacementPolicySupported: boolean;
  /** How long the drain can hold a node: the hook's global timeout (at most 48 h), seconds. */
  hookTimeoutSeconds: number;
}

/** What a Spot interruption leaves a pod: the 2-minute notice. */
export const SPOT_NOTICE_SECONDS = 120;

export type RuleId =
  | 'restart-policy-never'
  | 'no-retry-after-failure'
  | 'concurrency-forbid'
  | 'replace-when-stopped'
  | 'grace-within-hook'
  | 'grace-within-spot-notice';

export interface Finding {
  rule: RuleId;
  /** One line: what is wrong. */
  message: string;
  /** Why it matters during a drain. */
  why: string;
  /** The YAML that fixes it, at its place in the object. */
  fix: string;
}

/** Node labels that put a pod on Spot capacity: EKS managed node groups and Karpenter. */
export const SPOT_LABELS: ReadonlyArray<{ key: string; value: string }> = [
  { key: 'eks.amazonaws.com/capacityType', value: 'SPOT' },
  { key: 'karpenter.sh/capacity-type', value: 'spot' },
];

const DISRUPTION_TARGET = 'DisruptionTarget';

/** A podFailurePolicy rule matches the DisruptionTarget condition (status True, the default). */
export function handlesDisruptions(policy: BatchWorkloadView['podFailurePolicy']): boolean {
  return (policy?.rules ?? []).some((rule) =>
    (rule.onPodConditions ?? []).some((c) => c.type === DISRUPTION_TARGET && (c.status ?? 'True') === 'True'),
  );
}

/** `spec:` of a Job, `spec.jobTemplate.spec:` of a CronJob, indented for the fix's body. */
function atJobSpec(kind: BatchWorkloadView['kind'], body: string[]): string {
  const prefix = kind === 'CronJob' ? ['spec:', '  jobTemplate:', '    spec:'] : ['spec:'];
  const indent = kind === 'CronJob' ? '      ' : '  ';
  return [...prefix, ...body.map((line) => indent + line)].join('\n');
}
const atPodSpec = (kind: BatchWorkloadView['kind'], body: string[]) => atJobSpec(kind, ['template:', '  spec:', ...body.map((l) => `    ${l}`)]);

const hours = (s: number) => (s % 3600 === 0 ? `${s / 3600} h` : s >= 60 && s % 60 === 0 ? `${s / 60} min` : `${s} s`);

/**
 * The rules, in the order they are reported. Each returns a finding or
 * nothing; none throws on odd input (a missing field is the server default).
 */
export const jobRules: ReadonlyArray<{ id: RuleId; check(w: BatchWorkloadView, s: AuditSettings): Finding | undefined }> = [
  {
    id: 'restart-policy-never',
    check: (w) =>
      w.restartPolicy === 'Never'
        ? undefined
        : {
            rule: 'restart-policy-never',
            message: `restartPolicy is ${w.restartPolicy ?? 'unset'}, not Never`,
            why: 'With OnFailure the kubelet restarts a failed container in the same pod, out of reach of backoffLimit accounting per pod and of a podFailurePolicy (which requires Never): a failed run is run again on the spot.',
            fix: atPodSpec(w.kind, ['restartPolicy: Never']),
          },
  },
  {
    id: 'no-retry-after-failure',
    check: (w) =>
      w.backoffLimit === 0 || handlesDisruptions(w.podFailurePolicy)
        ? undefined
        : {
            rule: 'no-retry-after-failure',
            message: `backoffLimit is ${w.backoffLimit} and no podFailurePolicy rule matches DisruptionTarget`,
            why: `A failed run is started again, up to ${w.backoffLimit} times (the default is 6), and a pod evicted by a drain counts as one of those failures. Set backoffLimit: 0 so a failure is final, and say with a podFailurePolicy what a disruption means: Ignore (run again once the pod has stopped, not counted) or FailJob.`,
            fix: atJobSpec(w.kind, [
              'backoffLimit: 0',
              'podFailurePolicy:',
              '  rules:',
              '    - action: Ignore        # or FailJob: never run again after a disruption',
              '      onPodConditions:',
              '        - type: DisruptionTarget',
            ]),
          },
  },
  {
    id: 'concurrency-forbid',
    check: (w) =>
      w.kind !== 'CronJob' || w.concurrencyPolicy === 'Forbid'
        ? undefined
        : {
            rule: 'concurrency-forbid',
            message: `concurrencyPolicy is ${w.concurrencyPolicy ?? 'Allow'}, not Forbid`,
            why: 'A run held up by a drain (its pod waited for, or stopping for up to its grace period) is still active when the next schedule comes: Allow starts a second copy beside it, Replace kills it. Forbid skips the next run instead.',
            fix: ['spec:', '  concurrencyPolicy: Forbid'].join('\n'),
          },
  },
  {
    id: 'replace-when-stopped',
    check: (w, s) =>
      !s.podReplacementPolicySupported || w.podReplacementPolicy === 'Failed'
        ? undefined
        : {
            rule: 'replace-when-stopped',
            message: `podReplacementPolicy is ${w.podReplacementPolicy ?? 'TerminatingOrFailed'}, not Failed`,
            why: 'The Job controller starts the replacement of an evicted pod as soon as the pod is terminating, while it still runs its grace period: two copies of the job run at once. Failed waits until the pod has stopped.',
            fix: atJobSpec(w.kind, ['podReplacementPolicy: Failed']),
          },
  },
  {
    id: 'grace-within-hook',
    check: (w, s) =>
      w.spot || w.terminationGracePeriodSeconds <= s.hookTimeoutSeconds
        ? undefined
        : {
            rule: 'grace-within-hook',
            message: `terminationGracePeriodSeconds ${w.terminationGracePeriodSeconds} is longer than the lifecycle hook can hold the node (${hours(s.hookTimeoutSeconds)})`,
            why: `The node is held for at most ${hours(s.hookTimeoutSeconds)} (the hook's global timeout, 48 h at most); the pod is stopped by the drain's deadline policy before its grace ends. A grace period that fits tells the job the truth about how long it has.`,
            fix: atPodSpec(w.kind, [`terminationGracePeriodSeconds: ${s.hookTimeoutSeconds}   # at most; the job's real shutdown time is better`]),
          },
  },
  {
    id: 'grace-within-spot-notice',
    check: (w) =>
      !w.spot || w.terminationGracePeriodSeconds <= SPOT_NOTICE_SECONDS
        ? undefined
        : {
            rule: 'grace-within-spot-notice',
            message: `runs on Spot capacity with terminationGracePeriodSeconds ${w.terminationGracePeriodSeconds}, longer than the 2-minute interruption notice`,
            why: 'A Spot interruption gives 2 minutes, and nothing extends them: the instance is gone before the grace period ends, and the job is killed mid-shutdown. Shorten its shutdown to fit, or run it on On-Demand capacity.',
            fix: atPodSpec(w.kind, [`terminationGracePeriodSeconds: ${SPOT_NOTICE_SECONDS - 10}   # or move it off Spot: nodeSelector eks.amazonaws.com/capacityType: ON_DEMAND`]),
          },
  },
];

export function auditWorkload(workload: BatchWorkloadView, settings: AuditSettings): Finding[] {
  return jobRules.map((rule) => rule.check(workload, settings)).filter((f): f is Finding => f !== undefined);
}

/** The server version that has spec.podReplacementPolicy on by default (beta in 1.29, GA in 1.34). */
export function supportsPodReplacementPolicy(version: { major: string; minor: string }): boolean {
  const major = Number(version.major);
  const minor = Number.parseInt(version.minor, 10); // EKS answers "31+" on some versions
  return major > 1 || (major === 1 && minor >= 29);
}

/**
 * Whether a pod template lands on Spot capacity: a nodeSelector on one of
 * SPOT_LABELS, or a required node-affinity term whose every alternative
 * requires it (`In` with only the Spot value).
 */
export function runsOnSpot(podSpec: {
  nodeSelector?: Record<string, string>;
  affinity?: { nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: Array<{ matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> }> } } };
}): boolean {
  const isSpot = (key: string, values: string[]) => SPOT_LABELS.some((l) => l.key === key && values.length > 0 && values.every((v) => v === l.value));
  if (Object.entries(podSpec.nodeSelector ?? {}).some(([key, value]) => isSpot(key, [value]))) return true;
  const terms = podSpec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  return terms.length > 0 && terms.every((term) => (term.matchExpressions ?? []).some((e) => e.operator === 'In' && isSpot(e.key, e.values ?? [])));
}
