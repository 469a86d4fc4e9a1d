/**
 * lib/kubernetes/node-admission-policy.yaml, evaluated with a CEL interpreter
 * (@bufbuild/cel) the way kube-apiserver evaluates a ValidatingAdmissionPolicy:
 * the node patches the drain makes (and the warm-pool return that undoes them)
 * pass; any other change to a node by one of our groups is refused; other users
 * are not concerned.
 */
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { KUBERNETES_GROUPS, KUBERNETES_MANIFESTS } from '../../lib/cluster-access';
import { cordonPatch, DRAIN_TAINT_KEY, EXCLUDE_FROM_LB_LABEL } from '../../lambda/adapters/kube-nodes';
import { AdmissionPolicies } from '../../sim/kube/admission';
import { jsonPatch, mergePatch } from '../../sim/kube/patch';

type Node = Record<string, any>;

const policies = new AdmissionPolicies().apply(readFileSync(KUBERNETES_MANIFESTS.nodeAdmissionPolicy, 'utf8'));
const cordonUser = { username: 'arn:aws:sts::123456789012:assumed-role/CordonRole/cordon', groups: [KUBERNETES_GROUPS.cordon, 'system:authenticated'] };

/** A node as EKS registers it, with someone else's taint and labels. */
function node(): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: 'ip-10-0-0-1.ec2.internal',
      uid: 'u-1',
      resourceVersion: '42',
      labels: { 'kubernetes.io/hostname': 'ip-10-0-0-1.ec2.internal', 'topology.kubernetes.io/zone': 'us-east-1a', 'team': 'shop' },
      annotations: { 'node.alpha.kubernetes.io/ttl': '0' },
    },
    spec: {
      providerID: 'aws:///us-east-1a/i-0aaaaaaaaaaaaaaa1',
      podCIDR: '10.0.1.0/24',
      podCIDRs: ['10.0.1.0/24'],
      taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }],
    },
  };
}

/** The node the drain's cordon leaves behind. */
function cordoned(): Node {
  return jsonPatch(node(), cordonPatch(node() as never, 'abc123') as never) as Node;
}

function admit(oldObject: Node, object: Node, user = cordonUser) {
  return policies.admit({ operation: 'UPDATE', apiGroup: '', apiVersion: 'v1', resource: 'nodes', subresource: '', oldObject, object, user });
}

describe('node admission policy (CEL)', () => {
  test('is one policy, in force with Deny, on node updates by our groups only', () => {
    const documents = parseAllDocuments(readFileSync(KUBERNETES_MANIFESTS.nodeAdmissionPolicy, 'utf8')).map((d) => d.toJS());
    expect(documents.map((d) => `${d.apiVersion} ${d.kind}`)).toEqual([
      'admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy',
      'admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding',
    ]);
    expect(documents[0].spec.failurePolicy).toBe('Fail');
    expect(documents[1].spec).toEqual({ policyName: documents[0].metadata.name, validationActions: ['Deny'] });
    expect(policies.size).toBe(1);
  });

  test.each([
    ['the drain\'s own cordon patch', node, cordoned],
    ['a cordon alone', node, () => mergePatch(node(), { spec: { unschedulable: true } })],
    ['the cordon patch on a node without labels or taints', () => ({ ...node(), metadata: { name: 'n', uid: 'u' }, spec: {} }),
      () => jsonPatch({ ...node(), metadata: { name: 'n', uid: 'u' }, spec: {} }, cordonPatch({ metadata: { name: 'n' }, spec: {} } as never, 'abc') as never)],
    ['the warm-pool return: uncordon, our taint and label removed', cordoned, () => {
      const back = cordoned();
      delete back.spec.unschedulable;
      back.spec.taints = back.spec.taints.filter((t: { key: string }) => t.key !== DRAIN_TAINT_KEY);
      delete back.metadata.labels[EXCLUDE_FROM_LB_LABEL];
      return back;
    }],
    ['a patch that changes nothing', node, node],
  ])('allows %s', (_name, before, after) => {
    expect(admit(before(), after())).toEqual({ allowed: true, refusals: [] });
  });

  test.each([
    ['another label added', (n: Node) => { n.metadata.labels.evil = 'yes'; }, /only the label node.kubernetes.io\/exclude-from-external-load-balancers/],
    ['another label changed', (n: Node) => { n.metadata.labels.team = 'other'; }, /only the label/],
    ['another label removed', (n: Node) => { delete n.metadata.labels.team; }, /only the label/],
    ['someone else\'s taint removed', (n: Node) => { n.spec.taints = []; }, /only its own taint/],
    ['a taint of another key added', (n: Node) => { n.spec.taints.push({ key: 'evil', effect: 'NoSchedule' }); }, /only its own taint/],
    ['our taint with effect NoExecute (evicts everything past the PDBs)', (n: Node) => { n.spec.taints.push({ key: DRAIN_TAINT_KEY, value: 'x', effect: 'NoExecute' }); }, /must have the effect NoSchedule/],
    ['an annotation added', (n: Node) => { n.metadata.annotations.evil = 'x'; }, /annotations, finalizers or owner references/],
    ['a finalizer added', (n: Node) => { n.metadata.finalizers = ['example.com/hold']; }, /annotations, finalizers or owner references/],
    ['the provider ID changed', (n: Node) => { n.spec.providerID = 'aws:///us-east-1a/i-0bbbbbbbbbbbbbbb2'; }, /only spec.unschedulable and its own taint/],
    ['the pod CIDRs changed', (n: Node) => { n.spec.podCIDRs = ['10.9.0.0/24']; }, /only spec.unschedulable and its own taint/],
  ])('refuses %s, even with the cordon', (_name, change, message) => {
    const after = cordoned();
    change(after);
    const verdict = admit(node(), after);
    expect(verdict.allowed).toBe(false);
    expect(verdict.refusals.join('\n')).toMatch(message);
    expect(verdict.refusals[0]).toMatch(/^ValidatingAdmissionPolicy 'eks-graceful-drain-node-changes' with binding 'eks-graceful-drain-node-changes' denied request: /);
  });

  test.each(Object.values(KUBERNETES_GROUPS))('applies to every one of our groups: %s', (group) => {
    const after = cordoned();
    after.metadata.labels.evil = 'yes';
    expect(admit(node(), after, { username: 'u', groups: [group, 'system:authenticated'] }).allowed).toBe(false);
  });

  test('leaves everyone else alone (the kubelet, an admin, kubectl users)', () => {
    const after = cordoned();
    after.metadata.labels.evil = 'yes';
    for (const user of [
      { username: 'system:node:ip-10-0-0-1.ec2.internal', groups: ['system:nodes', 'system:authenticated'] },
      { username: 'admin', groups: ['system:masters', 'system:authenticated'] },
      { username: 'dev', groups: ['eks-graceful-drain-fans', 'system:authenticated'] },
    ]) {
      expect(admit(node(), after, user)).toEqual({ allowed: true, refusals: [] });
    }
  });
});
