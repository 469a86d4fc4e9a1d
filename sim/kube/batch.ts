/**
 * batch/v1 CronJobs and Jobs as the API server stores them: the defaults of
 * pkg/apis/batch/v1/defaults.go and pkg/apis/core/v1/defaults.go applied to
 * what a user wrote, so a reader (the audit) sees what a real cluster returns.
 * - Job: backoffLimit 6, completions and parallelism 1, completionMode
 *   NonIndexed, suspend false, manualSelector unset; podReplacementPolicy
 *   (JobPodReplacementPolicy, beta and on by default since 1.29, GA in 1.34)
 *   Failed when a podFailurePolicy is set, TerminatingOrFailed otherwise.
 * - CronJob: concurrencyPolicy Allow, suspend false, successfulJobsHistoryLimit
 *   3, failedJobsHistoryLimit 1.
 * - Pod template: terminationGracePeriodSeconds 30, dnsPolicy ClusterFirst,
 *   schedulerName default-scheduler. restartPolicy has no default in a Job:
 *   validation requires Never or OnFailure.
 */
import { KubeError, KubeObject } from './objects';

export interface PodTemplateInput {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Anything of a PodSpec; containers default to one busybox container. */
  spec: Record<string, any> & { restartPolicy: 'Never' | 'OnFailure' };
}

export interface JobSpecInput {
  backoffLimit?: number;
  podFailurePolicy?: { rules: Array<Record<string, unknown>> };
  podReplacementPolicy?: 'Failed' | 'TerminatingOrFailed';
  activeDeadlineSeconds?: number;
  template: PodTemplateInput;
}

export interface JobInput extends JobSpecInput {
  namespace?: string;
  name: string;
  /** The CronJob that created this Job (its controller owner reference). */
  ownedBy?: KubeObject;
  status?: Record<string, unknown>;
}

export interface CronJobInput {
  namespace?: string;
  name: string;
  schedule: string;
  concurrencyPolicy?: 'Allow' | 'Forbid' | 'Replace';
  jobTemplate: JobSpecInput;
}

/** The Job as the API server would store it. */
/** `serverMinor`: the API server's minor version (podReplacementPolicy exists from 1.29 on by default). */
export function jobObject(input: JobInput, uid: string, serverMinor: number): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: input.name,
      namespace: input.namespace ?? 'default',
      uid,
      ...(input.ownedBy
        ? {
            labels: { 'batch.kubernetes.io/cronjob-name': input.ownedBy.metadata.name },
            ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: input.ownedBy.metadata.name, uid: input.ownedBy.metadata.uid, controller: true, blockOwnerDeletion: true }],
          }
        : {}),
    } as KubeObject['metadata'],
    spec: jobSpec(input, `${input.namespace ?? 'default'}/${input.name}`, serverMinor, uid),
    status: input.status ?? { active: 1 },
  };
}

export function cronJobObject(input: CronJobInput, uid: string, serverMinor: number): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: input.name, namespace: input.namespace ?? 'default', uid } as KubeObject['metadata'],
    spec: {
      schedule: input.schedule,
      concurrencyPolicy: input.concurrencyPolicy ?? 'Allow',
      suspend: false,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 1,
      jobTemplate: { metadata: {}, spec: jobSpec(input.jobTemplate, `${input.namespace ?? 'default'}/${input.name}`, serverMinor) },
    },
    status: {},
  };
}

/** `uid`: the Job's own, for the selector the server generates; none in a CronJob's jobTemplate. */
function jobSpec(input: JobSpecInput, key: string, minor: number, uid?: string): Record<string, unknown> {
  const restartPolicy = input.template.spec.restartPolicy;
  if (restartPolicy !== 'Never' && restartPolicy !== 'OnFailure') {
    throw new KubeError(422, 'Invalid', `Job.batch "${key}" is invalid: spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`);
  }
  if (input.podFailurePolicy && restartPolicy !== 'Never') {
    throw new KubeError(422, 'Invalid', `Job.batch "${key}" is invalid: spec.podFailurePolicy: Invalid value: only "Never" is supported when podFailurePolicy is specified`);
  }
  if (input.podFailurePolicy && input.podReplacementPolicy === 'TerminatingOrFailed') {
    throw new KubeError(422, 'Invalid', `Job.batch "${key}" is invalid: spec.podReplacementPolicy: Unsupported value: "TerminatingOrFailed": supported values: "Failed"`);
  }
  const replacement = minor >= 29 ? { podReplacementPolicy: input.podReplacementPolicy ?? (input.podFailurePolicy ? 'Failed' : 'TerminatingOrFailed') } : {};
  return {
    backoffLimit: input.backoffLimit ?? 6,
    completions: 1,
    parallelism: 1,
    completionMode: 'NonIndexed',
    suspend: false,
    ...(input.activeDeadlineSeconds !== undefined ? { activeDeadlineSeconds: input.activeDeadlineSeconds } : {}),
    ...(input.podFailurePolicy ? { podFailurePolicy: input.podFailurePolicy } : {}),
    ...replacement,
    ...(uid ? { selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } } } : {}),
    template: {
      metadata: { ...(input.template.labels ? { labels: input.template.labels } : {}), ...(input.template.annotations ? { annotations: input.template.annotations } : {}) },
      spec: {
        containers: [{ name: 'main', image: 'public.ecr.aws/docker/library/busybox:1.36', imagePullPolicy: 'IfNotPresent', terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File' }],
        terminationGracePeriodSeconds: 30,
        dnsPolicy: 'ClusterFirst',
        schedulerName: 'default-scheduler',
        securityContext: {},
        ...input.template.spec,
      },
    },
  };
}
