import { auditWorkload, handlesDisruptions, runsOnSpot, supportsPodReplacementPolicy, type BatchWorkloadView } from '../../lambda/core/job-rules';

const compliant = (over: Partial<BatchWorkloadView> = {}): BatchWorkloadView => ({
  kind: 'CronJob',
  namespace: 'batch',
  name: 'report',
  concurrencyPolicy: 'Forbid',
  backoffLimit: 0,
  podReplacementPolicy: 'Failed',
  restartPolicy: 'Never',
  terminationGracePeriodSeconds: 3600,
  spot: false,
  ...over,
});
const settings = { podReplacementPolicySupported: true, hookTimeoutSeconds: 172_800 };
const disruptionRule = { rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] }] };

describe('auditWorkload', () => {
  it.each<[string, Partial<BatchWorkloadView>, Partial<typeof settings>, string[]]>([
    ['a compliant CronJob', {}, {}, []],
    ['restartPolicy OnFailure', { restartPolicy: 'OnFailure' }, {}, ['restart-policy-never']],
    ['the default backoffLimit', { backoffLimit: 6 }, {}, ['no-retry-after-failure']],
    ['backoffLimit 3 with a DisruptionTarget rule', { backoffLimit: 3, podFailurePolicy: disruptionRule }, {}, []],
    ['a podFailurePolicy on exit codes only', { backoffLimit: 3, podFailurePolicy: { rules: [{ action: 'FailJob', onExitCodes: {} }] } }, {}, ['no-retry-after-failure']],
    ['concurrencyPolicy Allow', { concurrencyPolicy: 'Allow' }, {}, ['concurrency-forbid']],
    ['concurrencyPolicy Replace', { concurrencyPolicy: 'Replace' }, {}, ['concurrency-forbid']],
    ['a Job has no concurrencyPolicy', { kind: 'Job', concurrencyPolicy: undefined }, {}, []],
    ['TerminatingOrFailed', { podReplacementPolicy: 'TerminatingOrFailed' }, {}, ['replace-when-stopped']],
    ['no podReplacementPolicy on an old server', { podReplacementPolicy: undefined }, { podReplacementPolicySupported: false }, []],
    ['a grace longer than the hook', { terminationGracePeriodSeconds: 7200 }, { hookTimeoutSeconds: 3600 }, ['grace-within-hook']],
    ['a grace equal to the hook', { terminationGracePeriodSeconds: 3600 }, { hookTimeoutSeconds: 3600 }, []],
    ['Spot with a 10-minute grace', { spot: true, terminationGracePeriodSeconds: 600 }, {}, ['grace-within-spot-notice']],
    ['Spot with a 2-minute grace', { spot: true, terminationGracePeriodSeconds: 120 }, {}, []],
    ['everything wrong', { restartPolicy: 'OnFailure', backoffLimit: 6, concurrencyPolicy: 'Allow', podReplacementPolicy: 'TerminatingOrFailed', terminationGracePeriodSeconds: 200_000 }, {}, ['restart-policy-never', 'no-retry-after-failure', 'concurrency-forbid', 'replace-when-stopped', 'grace-within-hook']],
  ])('%s', (_name, over, settingsOver, rules) => {
    expect(auditWorkload(compliant(over), { ...settings, ...settingsOver }).map((f) => f.rule)).toEqual(rules);
  });

  it('places each fix at its path: under jobTemplate for a CronJob, under spec for a Job', () => {
    const [cron] = auditWorkload(compliant({ podReplacementPolicy: 'TerminatingOrFailed' }), settings);
    expect(cron.fix).toBe('spec:\n  jobTemplate:\n    spec:\n      podReplacementPolicy: Failed');
    const [job] = auditWorkload(compliant({ kind: 'Job', restartPolicy: 'OnFailure' }), settings);
    expect(job.fix).toBe('spec:\n  template:\n    spec:\n      restartPolicy: Never');
  });
});

describe('handlesDisruptions', () => {
  it.each([
    [undefined, false],
    [{ rules: [] }, false],
    [disruptionRule, true],
    [{ rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'False' }] }] }, false],
    [{ rules: [{ action: 'FailJob', onPodConditions: [{ type: 'ConfigIssue' }] }] }, false],
  ])('%j → %s', (policy, expected) => expect(handlesDisruptions(policy)).toBe(expected));
});

describe('runsOnSpot', () => {
  const required = (key: string, values: string[], operator = 'In') => ({
    affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key, operator, values }] }] } } },
  });
  it.each([
    ['no constraint', {}, false],
    ['EKS managed node group SPOT', { nodeSelector: { 'eks.amazonaws.com/capacityType': 'SPOT' } }, true],
    ['EKS ON_DEMAND', { nodeSelector: { 'eks.amazonaws.com/capacityType': 'ON_DEMAND' } }, false],
    ['Karpenter spot by affinity', required('karpenter.sh/capacity-type', ['spot']), true],
    ['Karpenter spot or on-demand', required('karpenter.sh/capacity-type', ['spot', 'on-demand']), false],
    ['NotIn spot', required('karpenter.sh/capacity-type', ['spot'], 'NotIn'), false],
  ])('%s', (_name, spec, expected) => expect(runsOnSpot(spec)).toBe(expected));
});

describe('supportsPodReplacementPolicy', () => {
  it.each([
    [{ major: '1', minor: '28' }, false],
    [{ major: '1', minor: '29' }, true],
    [{ major: '1', minor: '31+' }, true],
    [{ major: '1', minor: '34' }, true],
  ])('%j → %s', (version, expected) => expect(supportsPodReplacementPolicy(version)).toBe(expected));
});
