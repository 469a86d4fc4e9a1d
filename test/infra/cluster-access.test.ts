import * as fs from 'fs';
import { App } from 'aws-cdk-lib';
import { parseAllDocuments } from 'yaml';
import { KUBERNETES_FUNCTIONS, KUBERNETES_GROUPS, KUBERNETES_MANIFESTS, applyDeadlineDeletesPods, kubernetesFunctions, kubernetesManifests } from '../../lib/cluster-access';
import type { DrainFunctionKey } from '../../lib/drain-functions';
import { drainPropsFromContext, EksGracefulDrainStack } from '../../lib/stack';
import { synthesizeStack } from '../../sim/workflow/synth';


describe('ClusterAccess', () => {
  const { stack, drain, template } = synthesizeStack({ clusterName: 'prod' });
  const roleId = (key: DrainFunctionKey) => stack.getLogicalId(drain.functions[key].role!.node.defaultChild as never);
  const roleArn = (key: DrainFunctionKey) => ({ 'Fn::GetAtt': [roleId(key), 'Arn'] });

  /** The functions whose role may describe the cluster (learn its endpoint and CA). */
  const describersOf = (built: ReturnType<typeof synthesizeStack>) => {
    const id = (key: DrainFunctionKey) => built.stack.getLogicalId(built.drain.functions[key].role!.node.defaultChild as never);
    const policies = Object.values(built.template.findResources('AWS::IAM::Policy'));
    return (Object.keys(built.drain.functions) as DrainFunctionKey[]).filter((key) =>
      policies.some((policy) =>
        JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: id(key) }])
        && JSON.stringify(policy.Properties.PolicyDocument).includes('"eks:DescribeCluster"'))).sort();
  };

  test('the Kubernetes-facing functions are exactly those that may describe the cluster', () => {
    // Drift guard: a function that starts calling the Kubernetes API needs
    // eks:DescribeCluster (lib/drain-functions.ts) and an identity in the cluster.
    expect(describersOf({ stack, drain, template } as never)).toEqual([...KUBERNETES_FUNCTIONS].sort());
  });

  test.each(['continue', 'abandon'] as const)('with onDeadline=%s and no Spot drains, apply-deadline calls no Kubernetes API: no DescribeCluster, no access entry', (onDeadline) => {
    const built = synthesizeStack({ onDeadline, spotInterruptions: false });
    expect(describersOf(built)).toEqual(['cordon', 'drainStep', 'prepare']);
    expect(Object.keys(built.drain.clusterAccess.accessEntries).sort()).toEqual(['cordon', 'drainStep', 'prepare']);
    expect(kubernetesFunctions(onDeadline, { spotInterruptions: false })).toEqual(['prepare', 'cordon', 'drainStep']);
    expect(kubernetesManifests(onDeadline, { spotInterruptions: false })).not.toContain(KUBERNETES_MANIFESTS.forceDelete);
  });

  test.each(['continue', 'abandon'] as const)('with onDeadline=%s and Spot drains on (the default), apply-deadline may delete pods: a Spot drain deletes what a PDB still holds at the interruption', (onDeadline) => {
    const built = synthesizeStack({ onDeadline });
    expect(describersOf(built)).toEqual([...KUBERNETES_FUNCTIONS].sort());
    expect(Object.keys(built.drain.clusterAccess.accessEntries).sort()).toEqual([...KUBERNETES_FUNCTIONS].sort());
    expect(kubernetesFunctions(onDeadline)).toEqual([...KUBERNETES_FUNCTIONS]);
    expect(kubernetesManifests(onDeadline)).toContain(KUBERNETES_MANIFESTS.forceDelete);
    expect(applyDeadlineDeletesPods(onDeadline)).toBe(true);
  });

  test('with onDeadline=force-delete, apply-deadline may delete pods with or without Spot drains', () => {
    expect(describersOf(synthesizeStack({ spotInterruptions: false }))).toEqual([...KUBERNETES_FUNCTIONS].sort());
    expect(kubernetesManifests('force-delete', { spotInterruptions: false })).toContain(KUBERNETES_MANIFESTS.forceDelete);
  });

  test('one STANDARD access entry per Kubernetes-facing role, each in its function\'s own group, without access policies', () => {
    const entries = Object.values(template.findResources('AWS::EKS::AccessEntry'));
    expect(entries).toHaveLength(KUBERNETES_FUNCTIONS.length);
    expect(entries.map((entry) => entry.Properties).sort((a, b) => a.PrincipalArn['Fn::GetAtt'][0].localeCompare(b.PrincipalArn['Fn::GetAtt'][0])))
      .toEqual(KUBERNETES_FUNCTIONS.map((key) => ({
        ClusterName: 'prod',
        PrincipalArn: roleArn(key),
        Type: 'STANDARD',
        KubernetesGroups: [KUBERNETES_GROUPS[key]],
      })).sort((a, b) => a.PrincipalArn['Fn::GetAtt'][0].localeCompare(b.PrincipalArn['Fn::GetAtt'][0])));
    expect(Object.keys(drain.clusterAccess.accessEntries).sort()).toEqual([...KUBERNETES_FUNCTIONS].sort());
  });

  test('no entry for the functions that only call AWS', () => {
    const principals = JSON.stringify(Object.values(template.findResources('AWS::EKS::AccessEntry')).map((e) => e.Properties.PrincipalArn));
    for (const key of ['startDrain', 'heartbeat', 'complete'] as const) {
      expect(principals).not.toContain(`"${roleId(key)}"`);
    }
  });

  test('outputs each Kubernetes-facing role ARN and its group, for aws-auth', () => {
    const outputs = Object.values(template.findOutputs('*'));
    for (const key of KUBERNETES_FUNCTIONS) {
      expect(outputs).toContainEqual(expect.objectContaining({ Value: roleArn(key), Description: expect.stringContaining(KUBERNETES_GROUPS[key]) }));
      expect(outputs).toContainEqual(expect.objectContaining({ Value: KUBERNETES_GROUPS[key] }));
    }
    expect(outputs).toHaveLength(KUBERNETES_FUNCTIONS.length * 2);
  });

  test('the groups are distinct, ours, and none a reserved one (system:, eks:, aws:, amazon:, iam:)', () => {
    const groups = Object.values(KUBERNETES_GROUPS);
    expect(new Set(groups).size).toBe(groups.length);
    for (const group of groups) expect(group).toMatch(/^eks-graceful-drain:[a-z-]+$/);
  });

  test('createAccessEntries: false creates none, and keeps the outputs', () => {
    const { drain: off, template: withoutEntries } = synthesizeStack({ createAccessEntries: false });
    withoutEntries.resourceCountIs('AWS::EKS::AccessEntry', 0);
    expect(off.clusterAccess.accessEntries).toEqual({});
    expect(Object.values(withoutEntries.findOutputs('*'))).toHaveLength(KUBERNETES_FUNCTIONS.length * 2);
  });

  describe('createAccessEntries from context', () => {
    const required = { clusterName: 'prod', autoScalingGroupNames: 'asg-a' };
    const propsFrom = (context: Record<string, unknown>) => drainPropsFromContext(new App({ context }).node);

    test.each([
      [undefined, undefined],
      ['', undefined],
      ['false', false],
      [' FALSE ', false],
      ['true', true],
      [false, false],
      [true, true],
    ])('%j → %j', (value, expected) => {
      expect(propsFrom({ ...required, createAccessEntries: value }).createAccessEntries).toBe(expected);
    });

    test.each([['no'], ['0'], [0]])('%j is refused', (value) => {
      expect(() => propsFrom({ ...required, createAccessEntries: value }))
        .toThrow(/"createAccessEntries": expected true or false/);
    });

    test('the stack creates the entries by default and none with "false"', () => {
      const count = (context: Record<string, unknown>) => {
        const app = new App({ context: { 'aws:cdk:disable-asset-staging': true, ...required, ...context } });
        const built = new EksGracefulDrainStack(app, 'S', { env: { account: '123456789012', region: 'us-east-1' } });
        return built.node.findAll().filter((c) => (c as { cfnResourceType?: string }).cfnResourceType === 'AWS::EKS::AccessEntry').length;
      };
      expect(count({})).toBe(KUBERNETES_FUNCTIONS.length);
      expect(count({ createAccessEntries: 'false' })).toBe(0);
    });
  });
});

describe('lib/kubernetes: one ClusterRole per group, each with only what its function does', () => {
  const manifestsOf = (file: string) => parseAllDocuments(fs.readFileSync(file, 'utf8')).map((document) => {
    expect(document.errors).toEqual([]);
    return document.toJS() as Record<string, any>;
  });
  const rbac = [...manifestsOf(KUBERNETES_MANIFESTS.rbac), ...manifestsOf(KUBERNETES_MANIFESTS.forceDelete), ...manifestsOf(KUBERNETES_MANIFESTS.nodeMarks)];
  type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[]; nonResourceURLs?: string[] };
  const grantsOf = (roleName: string): string[] => {
    const role = rbac.find((m) => m.kind === 'ClusterRole' && m.metadata.name === roleName);
    if (!role) throw new Error(`no ClusterRole ${roleName}`);
    return (role.rules as Rule[]).flatMap((rule) => {
      expect(rule.resourceNames).toBeUndefined();
      expect(rule.nonResourceURLs).toBeUndefined();
      return rule.apiGroups.flatMap((group) => rule.resources.flatMap((resource) =>
        rule.verbs.map((verb) => `${group === '' ? 'core' : group}/${resource}:${verb}`)));
    }).sort();
  };

  test('rbac.yaml holds prepare, cordon and drain-step; rbac-force-delete.yaml apply-deadline; nothing else', () => {
    const names = (file: string) => manifestsOf(file).map((m) => `${m.apiVersion} ${m.kind} ${m.metadata?.name}`);
    const pair = (name: string) => [`rbac.authorization.k8s.io/v1 ClusterRole ${name}`, `rbac.authorization.k8s.io/v1 ClusterRoleBinding ${name}`];
    expect(names(KUBERNETES_MANIFESTS.rbac)).toEqual(['prepare', 'cordon', 'drainStep'].flatMap((key) => pair(KUBERNETES_GROUPS[key as 'prepare'])));
    expect(names(KUBERNETES_MANIFESTS.forceDelete)).toEqual(pair(KUBERNETES_GROUPS.applyDeadline));
    expect(names(KUBERNETES_MANIFESTS.nodeMarks)).toEqual(pair(KUBERNETES_GROUPS.nodeMarks));
  });

  test.each([
    ['prepare', ['core/nodes:get', 'core/nodes:list']],
    ['cordon', ['core/nodes:get', 'core/nodes:patch']],
    ['drainStep', [
      'apps/daemonsets:get', 'core/nodes:get', 'core/nodes:list', 'core/nodes:patch', 'core/nodes:watch', 'core/persistentvolumeclaims:get',
      'core/pods/eviction:create', 'core/pods:get', 'core/pods:list', 'core/pods:watch',
      'policy/poddisruptionbudgets:list', 'policy/poddisruptionbudgets:watch',
      'storage.k8s.io/volumeattachments:list', 'storage.k8s.io/volumeattachments:watch',
      'batch/jobs:get',
    ]],
    ['applyDeadline', ['core/nodes:get', 'core/pods:delete', 'core/pods:list']],
    ['nodeMarks', ['core/nodes:get', 'core/nodes:list', 'core/nodes:patch']],
  ] as const)('%s: exactly %j (changing one must change this test)', (key, grants) => {
    expect(grantsOf(KUBERNETES_GROUPS[key])).toEqual([...grants].sort());
  });

  test('no wildcard, and no group may read secrets or configmaps, create pods, or delete nodes', () => {
    const everything = Object.values(KUBERNETES_GROUPS).flatMap(grantsOf);
    expect(JSON.stringify(rbac)).not.toMatch(/"\*"/);
    for (const forbidden of ['core/secrets', 'core/configmaps', 'core/pods:create', 'core/pods:update', 'core/pods:patch', 'core/nodes:delete', 'core/nodes/status']) {
      expect(everything.filter((grant) => grant.startsWith(forbidden))).toEqual([]);
    }
    expect(everything.filter((grant) => grant === 'core/pods:delete')).toHaveLength(1);
  });

  test('each binding binds its ClusterRole to the group of the same name, which the access entries use', () => {
    for (const group of Object.values(KUBERNETES_GROUPS)) {
      const binding = rbac.find((m) => m.kind === 'ClusterRoleBinding' && m.metadata.name === group)!;
      expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: group });
      expect(binding.subjects).toEqual([{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: group }]);
    }
  });
});
