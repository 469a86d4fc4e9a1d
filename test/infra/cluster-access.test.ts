import * as fs from 'fs';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { parseAllDocuments } from 'yaml';
import { KUBERNETES_FUNCTIONS, KUBERNETES_GROUP } from '../../lib/cluster-access';
import type { DrainFunctionKey } from '../../lib/drain-functions';
import { drainPropsFromContext, EksGracefulDrainStack } from '../../lib/stack';
import { synthesizeStack } from '../../sim/workflow/synth';

const RBAC_FILE = path.join(__dirname, '..', '..', 'lib', 'kubernetes', 'rbac.yaml');

describe('ClusterAccess', () => {
  const { stack, drain, template } = synthesizeStack({ clusterName: 'prod' });
  const roleId = (key: DrainFunctionKey) => stack.getLogicalId(drain.functions[key].role!.node.defaultChild as never);
  const roleArn = (key: DrainFunctionKey) => ({ 'Fn::GetAtt': [roleId(key), 'Arn'] });

  test('the Kubernetes-facing functions are exactly those that may describe the cluster', () => {
    // Drift guard: a function that starts calling the Kubernetes API needs
    // eks:DescribeCluster (lib/drain-functions.ts) and an identity in the cluster.
    const policies = Object.values(template.findResources('AWS::IAM::Policy'));
    const describers = (Object.keys(drain.functions) as DrainFunctionKey[]).filter((key) =>
      policies.some((policy) =>
        JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: roleId(key) }])
        && JSON.stringify(policy.Properties.PolicyDocument).includes('"eks:DescribeCluster"')));
    expect(describers.sort()).toEqual([...KUBERNETES_FUNCTIONS].sort());
  });

  test('one STANDARD access entry per Kubernetes-facing role, in our group, without access policies', () => {
    const entries = Object.values(template.findResources('AWS::EKS::AccessEntry'));
    expect(entries).toHaveLength(KUBERNETES_FUNCTIONS.length);
    expect(entries.map((entry) => entry.Properties).sort((a, b) => a.PrincipalArn['Fn::GetAtt'][0].localeCompare(b.PrincipalArn['Fn::GetAtt'][0])))
      .toEqual(KUBERNETES_FUNCTIONS.map((key) => ({
        ClusterName: 'prod',
        PrincipalArn: roleArn(key),
        Type: 'STANDARD',
        KubernetesGroups: [KUBERNETES_GROUP],
      })).sort((a, b) => a.PrincipalArn['Fn::GetAtt'][0].localeCompare(b.PrincipalArn['Fn::GetAtt'][0])));
    expect(Object.keys(drain.clusterAccess.accessEntries).sort()).toEqual([...KUBERNETES_FUNCTIONS].sort());
  });

  test('no entry for the functions that only call AWS', () => {
    const principals = JSON.stringify(Object.values(template.findResources('AWS::EKS::AccessEntry')).map((e) => e.Properties.PrincipalArn));
    for (const key of ['startDrain', 'heartbeat', 'complete'] as const) {
      expect(principals).not.toContain(`"${roleId(key)}"`);
    }
  });

  test('outputs each Kubernetes-facing role ARN and the group, for aws-auth', () => {
    const outputs = Object.values(template.findOutputs('*'));
    for (const key of KUBERNETES_FUNCTIONS) {
      expect(outputs).toContainEqual(expect.objectContaining({ Value: roleArn(key) }));
    }
    expect(outputs).toContainEqual(expect.objectContaining({ Value: KUBERNETES_GROUP }));
    expect(outputs).toHaveLength(KUBERNETES_FUNCTIONS.length + 1);
  });

  test('createAccessEntries: false creates none, and keeps the outputs', () => {
    const { drain: off, template: withoutEntries } = synthesizeStack({ createAccessEntries: false });
    withoutEntries.resourceCountIs('AWS::EKS::AccessEntry', 0);
    expect(off.clusterAccess.accessEntries).toEqual({});
    expect(Object.values(withoutEntries.findOutputs('*'))).toHaveLength(KUBERNETES_FUNCTIONS.length + 1);
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
        const app = new App({ context: { 'aws:cdk:bundling-stacks': [], ...required, ...context } });
        const built = new EksGracefulDrainStack(app, 'S', { env: { account: '123456789012', region: 'us-east-1' } });
        return built.node.findAll().filter((c) => (c as { cfnResourceType?: string }).cfnResourceType === 'AWS::EKS::AccessEntry').length;
      };
      expect(count({})).toBe(KUBERNETES_FUNCTIONS.length);
      expect(count({ createAccessEntries: 'false' })).toBe(0);
    });
  });
});

describe('lib/kubernetes/rbac.yaml', () => {
  const documents = parseAllDocuments(fs.readFileSync(RBAC_FILE, 'utf8'));
  const manifests = documents.map((document) => {
    expect(document.errors).toEqual([]);
    return document.toJS() as Record<string, any>;
  });
  const role = manifests.find((m) => m.kind === 'ClusterRole')!;
  const binding = manifests.find((m) => m.kind === 'ClusterRoleBinding')!;

  test('is a ClusterRole and its binding, nothing else', () => {
    expect(manifests.map((m) => `${m.apiVersion} ${m.kind} ${m.metadata?.name}`)).toEqual([
      'rbac.authorization.k8s.io/v1 ClusterRole eks-graceful-drain',
      'rbac.authorization.k8s.io/v1 ClusterRoleBinding eks-graceful-drain',
    ]);
  });

  test('grants exactly the verbs the drain needs (changing one must change this test)', () => {
    const granted = (role.rules as Array<{ apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[]; nonResourceURLs?: string[] }>)
      .flatMap((rule) => {
        expect(rule.resourceNames).toBeUndefined();
        expect(rule.nonResourceURLs).toBeUndefined();
        return rule.apiGroups.flatMap((group) => rule.resources.flatMap((resource) =>
          rule.verbs.map((verb) => `${group === '' ? 'core' : group}/${resource}:${verb}`)));
      })
      .sort();
    expect(granted).toEqual([
      'apps/daemonsets:get',
      'core/nodes:get',
      'core/nodes:list',
      'core/nodes:patch',
      'core/persistentvolumeclaims:get',
      'core/pods/eviction:create',
      'core/pods:delete',
      'core/pods:get',
      'core/pods:list',
      'core/pods:watch',
      'policy/poddisruptionbudgets:get',
      'policy/poddisruptionbudgets:list',
      'policy/poddisruptionbudgets:watch',
      'storage.k8s.io/volumeattachments:list',
      'storage.k8s.io/volumeattachments:watch',
    ]);
    expect(JSON.stringify(role.rules)).not.toContain('*');
  });

  test('binds the ClusterRole to the group the access entries use', () => {
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name });
    expect(binding.subjects).toEqual([{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: KUBERNETES_GROUP }]);
  });
});
