/**
 * The batch world the audit is shown on (its test, and the README's output):
 * one CronJob that does everything right, one that does nothing right, and a
 * run (Job) of each.
 */
import type { FakeKubeServer } from './server';

export function seedBatch(server: FakeKubeServer): void {
  const good = server.addCronJob({
    namespace: 'batch',
    name: 'nightly-report',
    schedule: '0 2 * * *',
    concurrencyPolicy: 'Forbid',
    jobTemplate: {
      backoffLimit: 0,
      podReplacementPolicy: 'Failed',
      podFailurePolicy: { rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] }] },
      template: { spec: { restartPolicy: 'Never', terminationGracePeriodSeconds: 3600 } },
    },
  });
  const bad = server.addCronJob({
    namespace: 'shop',
    name: 'cleanup',
    schedule: '*/15 * * * *',
    jobTemplate: {
      template: { spec: { restartPolicy: 'OnFailure', terminationGracePeriodSeconds: 600, nodeSelector: { 'eks.amazonaws.com/capacityType': 'SPOT' } } },
    },
  });
  server.addJob({ namespace: 'batch', name: 'nightly-report-29374080', ownedBy: good, backoffLimit: 0, podReplacementPolicy: 'Failed', template: { spec: { restartPolicy: 'Never', terminationGracePeriodSeconds: 3600 } } });
  server.addJob({ namespace: 'shop', name: 'cleanup-29374095', ownedBy: bad, template: { spec: { restartPolicy: 'OnFailure', terminationGracePeriodSeconds: 600, nodeSelector: { 'eks.amazonaws.com/capacityType': 'SPOT' } } } });
}

