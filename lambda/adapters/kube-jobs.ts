/**
 * Reads what the audit needs from a cluster, read-only: GET /version, and a
 * LIST of CronJobs and of Jobs (batch/v1), turned into the views of
 * core/job-rules. Jobs a CronJob owns are listed under it, not audited again
 * (they are copies of its jobTemplate).
 */
import * as k8s from '@kubernetes/client-node';
import { runsOnSpot, supportsPodReplacementPolicy, type BatchWorkloadView } from '../core/job-rules';

export interface ClusterJobs {
  version: { major: string; minor: string; gitVersion: string };
  podReplacementPolicySupported: boolean;
  workloads: BatchWorkloadView[];
}

export async function readClusterJobs(config: k8s.KubeConfig, namespace?: string): Promise<ClusterJobs> {
  const version = await config.makeApiClient(k8s.VersionApi).getCode();
  const batch = config.makeApiClient(k8s.BatchV1Api);
  const [cronJobs, jobs] = await Promise.all([
    namespace ? batch.listNamespacedCronJob({ namespace }) : batch.listCronJobForAllNamespaces(),
    namespace ? batch.listNamespacedJob({ namespace }) : batch.listJobForAllNamespaces(),
  ]);
  const byCronJobUid = new Map<string, string[]>();
  const standalone: k8s.V1Job[] = [];
  for (const job of jobs.items) {
    const owner = job.metadata?.ownerReferences?.find((o) => o.controller && o.kind === 'CronJob');
    if (owner) byCronJobUid.set(owner.uid, [...(byCronJobUid.get(owner.uid) ?? []), job.metadata?.name ?? '']);
    else standalone.push(job);
  }
  const workloads: BatchWorkloadView[] = [
    ...cronJobs.items.map((cj) => ({
      ...jobView('CronJob', cj.metadata, cj.spec?.jobTemplate.spec),
      concurrencyPolicy: cj.spec?.concurrencyPolicy ?? 'Allow',
      jobs: (byCronJobUid.get(cj.metadata?.uid ?? '') ?? []).sort(),
    })),
    ...standalone.map((job) => jobView('Job', job.metadata, job.spec)),
  ].sort((a, b) => key(a).localeCompare(key(b), 'en'));
  return {
    version: { major: version.major, minor: version.minor, gitVersion: version.gitVersion },
    podReplacementPolicySupported: supportsPodReplacementPolicy(version),
    workloads,
  };
}

const key = (w: BatchWorkloadView) => `${w.namespace}/${w.name}/${w.kind}`;

function jobView(kind: BatchWorkloadView['kind'], metadata: k8s.V1ObjectMeta | undefined, spec: k8s.V1JobSpec | undefined): BatchWorkloadView {
  const pod = spec?.template.spec;
  return {
    kind,
    namespace: metadata?.namespace ?? 'default',
    name: metadata?.name ?? '',
    // The server's defaults, should a field be missing.
    backoffLimit: spec?.backoffLimit ?? 6,
    podFailurePolicy: spec?.podFailurePolicy
      ? {
          rules: spec.podFailurePolicy.rules.map((r) => ({
            action: r.action,
            onPodConditions: r.onPodConditions?.map((c) => ({ type: c.type, status: c.status })),
            onExitCodes: r.onExitCodes,
          })),
        }
      : undefined,
    podReplacementPolicy: spec?.podReplacementPolicy,
    restartPolicy: pod?.restartPolicy,
    terminationGracePeriodSeconds: pod?.terminationGracePeriodSeconds ?? 30,
    spot: pod ? runsOnSpot(pod as Parameters<typeof runsOnSpot>[0]) : false,
  };
}
