import { forbidden, RbacAuthorizer, requestAttributes } from '../../../sim/kube/rbac';

const attrs = (method: string, path: string, query = '') => requestAttributes(method, path, new URLSearchParams(query));

describe('request attributes, as RequestInfoFactory derives them', () => {
  test.each([
    ['GET', '/api/v1/nodes', '', { verb: 'list', resource: 'nodes', apiGroup: '', namespace: '', name: '' }],
    ['GET', '/api/v1/nodes', 'watch=true', { verb: 'watch', resource: 'nodes' }],
    ['GET', '/api/v1/nodes', 'fieldSelector=metadata.name%3Dn1', { verb: 'list', resource: 'nodes', name: 'n1' }],
    ['GET', '/api/v1/nodes/n1', '', { verb: 'get', resource: 'nodes', name: 'n1' }],
    ['PATCH', '/api/v1/nodes/n1', '', { verb: 'patch', resource: 'nodes', name: 'n1' }],
    ['PATCH', '/api/v1/nodes/n1/status', '', { verb: 'patch', resource: 'nodes', name: 'n1', subresource: 'status' }],
    ['GET', '/api/v1/pods', 'fieldSelector=spec.nodeName%3Dn1', { verb: 'list', resource: 'pods', namespace: '' }],
    ['GET', '/api/v1/namespaces/shop/pods/web-1', '', { verb: 'get', resource: 'pods', namespace: 'shop', name: 'web-1' }],
    ['POST', '/api/v1/namespaces/shop/pods/web-1/eviction', '', { verb: 'create', resource: 'pods', subresource: 'eviction', namespace: 'shop', name: 'web-1' }],
    ['DELETE', '/api/v1/namespaces/shop/pods/web-1', '', { verb: 'delete', resource: 'pods', name: 'web-1' }],
    ['DELETE', '/api/v1/namespaces/shop/pods', '', { verb: 'deletecollection', resource: 'pods', namespace: 'shop' }],
    ['GET', '/api/v1/namespaces/shop', '', { verb: 'get', resource: 'namespaces', name: 'shop', namespace: 'shop' }],
    ['GET', '/apis/policy/v1/poddisruptionbudgets', 'watch=1', { verb: 'watch', resource: 'poddisruptionbudgets', apiGroup: 'policy' }],
    ['GET', '/apis/storage.k8s.io/v1/volumeattachments', '', { verb: 'list', resource: 'volumeattachments', apiGroup: 'storage.k8s.io' }],
    ['GET', '/api/v1/watch/namespaces/shop/pods', '', { verb: 'watch', resource: 'pods', namespace: 'shop' }],
  ])('%s %s?%s', (method, path, query, expected) => {
    expect(attrs(method, path, query)).toMatchObject({ resourceRequest: true, subresource: '', ...expected });
  });

  test.each([['/version'], ['/api'], ['/api/v1'], ['/apis'], ['/apis/policy/v1']])('%s is a non-resource (discovery) request', (path) => {
    expect(attrs('GET', path)).toMatchObject({ resourceRequest: false, verb: 'get', path });
  });
});

describe('RBAC authorizer', () => {
  const rbac = new RbacAuthorizer().apply(`
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: readers }
rules:
  - { apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }
  - { apiGroups: [""], resources: ["pods/eviction"], verbs: ["create"] }
  - { apiGroups: [""], resources: ["nodes"], verbs: ["get"], resourceNames: ["n1"] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: readers }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: readers }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: Group, name: team }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: shop-readers, namespace: shop }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: readers }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: alice }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: dangling }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: does-not-exist }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: Group, name: team }]
`);
  const team = { username: 'bob', groups: ['team', 'system:authenticated'] };
  const alice = { username: 'alice', groups: ['system:authenticated'] };
  const allowed = (user: typeof team, method: string, path: string, query = '') => rbac.authorize(user, attrs(method, path, query)).allowed;

  test.each([
    [team, 'GET', '/api/v1/pods', true],
    [team, 'GET', '/api/v1/pods?watch=true', false],
    [team, 'POST', '/api/v1/namespaces/shop/pods/p/eviction', true],
    [team, 'DELETE', '/api/v1/namespaces/shop/pods/p', false],
    [team, 'GET', '/api/v1/nodes/n1', true],
    [team, 'GET', '/api/v1/nodes/n2', false],
    [team, 'GET', '/api/v1/nodes', false], // resourceNames never allow a list
    [team, 'GET', '/version', true], // system:discovery
    [alice, 'GET', '/api/v1/namespaces/shop/pods/p', true],
    [alice, 'GET', '/api/v1/namespaces/other/pods/p', false], // a RoleBinding grants in its namespace only
    [alice, 'GET', '/api/v1/pods', false],
    [{ username: 'admin', groups: ['system:masters'] }, 'DELETE', '/api/v1/nodes/n1', true],
    [{ username: 'anon', groups: [] }, 'GET', '/version', false],
  ])('%j %s %s → %s', (user, method, pathAndQuery, expected) => {
    const [path, query] = pathAndQuery.split('?');
    expect(allowed(user, method, path, query)).toBe(expected);
  });

  test('a refusal is the Status message kube-apiserver writes', () => {
    const refused = forbidden(team, attrs('DELETE', '/api/v1/namespaces/shop/pods/p'));
    expect([refused.code, refused.reason, refused.message, refused.details]).toEqual([403, 'Forbidden',
      'pods "p" is forbidden: User "bob" cannot delete resource "pods" in API group "" in the namespace "shop"', { kind: 'pods', name: 'p' }]);
    expect(forbidden(team, attrs('GET', '/apis/policy/v1/poddisruptionbudgets')).message)
      .toBe('poddisruptionbudgets.policy is forbidden: User "bob" cannot list resource "poddisruptionbudgets" in API group "policy" at the cluster scope');
    expect(forbidden(team, attrs('GET', '/healthz')).message).toBe('forbidden: User "bob" cannot get path "/healthz"');
  });
});
