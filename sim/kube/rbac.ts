/**
 * Authentication and RBAC authorization as kube-apiserver does them, for the
 * fake server: a bearer token maps to a user and its groups (as an EKS access
 * entry maps a role to Kubernetes groups), every request is turned into
 * request attributes (verb, API group, resource, subresource, namespace, name,
 * or a non-resource path) like k8s.io/apiserver's RequestInfoFactory, and the
 * RBAC rules of the applied ClusterRoles/Roles and their bindings decide.
 * A refusal is the Status kube-apiserver writes (responsewriters.Forbidden).
 *
 * What it models of the real thing:
 * - `system:masters` bypasses authorization (the superuser authorizer);
 * - every authenticated user is in `system:authenticated`, which the bootstrap
 *   ClusterRoles system:discovery and system:public-info-viewer let read the
 *   discovery paths (/api, /apis, /version…);
 * - GET on a collection is `list`, or `watch` with ?watch=true; DELETE on a
 *   collection is `deletecollection`; a subresource is matched as
 *   `resource/subresource`; `*` in a rule matches anything of its kind;
 *   resourceNames restrict a rule to named objects (never a list);
 * - a RoleBinding grants only in its namespace; a binding to a missing role
 *   grants nothing.
 */
import { parseAllDocuments } from 'yaml';
import { KubeError } from './objects';

export interface UserInfo {
  username: string;
  groups: string[];
}

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

/** What kube-apiserver authorizes: the attributes of one request. */
export interface RequestAttributes {
  verb: string;
  /** Resource request: the path names an API resource; otherwise a non-resource path (discovery, /version). */
  resourceRequest: boolean;
  path: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
}

export interface Decision {
  allowed: boolean;
  /** The role and rule that allowed it, `<kind>/<name>#<rule index>`, or why not. */
  by?: string;
}

interface Role { kind: 'ClusterRole' | 'Role'; name: string; namespace?: string; rules: PolicyRule[] }
interface Binding {
  kind: 'ClusterRoleBinding' | 'RoleBinding';
  name: string;
  namespace?: string;
  roleRef: { kind: string; name: string };
  subjects: Array<{ kind: string; name: string; namespace?: string }>;
}

/** The bootstrap roles every cluster has that our requests meet: discovery for any authenticated user. */
const BOOTSTRAP_MANIFEST = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: "system:discovery" }
rules:
  - nonResourceURLs: ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"]
    verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: "system:discovery" }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:discovery" }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:authenticated" }]
`;

/** Usage of one rule: which role and rule allowed what. */
export interface RuleUse {
  role: string;
  rule: number;
  verb: string;
  resource: string;
  apiGroup: string;
  user: string;
}

export class RbacAuthorizer {
  private readonly roles = new Map<string, Role>();
  private readonly bindings: Binding[] = [];
  /** Every allowed resource request, by the rule that allowed it (for coverage checks). */
  readonly uses: RuleUse[] = [];

  constructor() {
    this.apply(BOOTSTRAP_MANIFEST);
  }

  /** Applies the RBAC objects of a YAML stream (other kinds are ignored, as a separate `kubectl apply` would handle them). */
  apply(yamlText: string): this {
    for (const document of parseAllDocuments(yamlText)) {
      if (document.errors.length > 0) throw new Error(`RBAC manifest: ${document.errors[0].message}`);
      const object = document.toJS() as Record<string, any> | null;
      if (!object) continue;
      const { kind, metadata } = object;
      if (kind === 'ClusterRole' || kind === 'Role') {
        if (object.aggregationRule) throw new Error(`${kind} ${metadata.name}: aggregationRule is not modelled`);
        const role: Role = { kind, name: metadata.name, namespace: metadata.namespace, rules: object.rules ?? [] };
        this.roles.set(roleKey(kind, role.name, role.namespace), role);
      } else if (kind === 'ClusterRoleBinding' || kind === 'RoleBinding') {
        this.bindings.push({ kind, name: metadata.name, namespace: metadata.namespace, roleRef: object.roleRef, subjects: object.subjects ?? [] });
      }
    }
    return this;
  }

  /** The ClusterRoles and Roles applied so far (bootstrap ones included), with their rules. */
  listRoles(): Array<{ kind: string; name: string; rules: PolicyRule[] }> {
    return [...this.roles.values()];
  }

  authorize(user: UserInfo, attrs: RequestAttributes): Decision {
    if (user.groups.includes('system:masters')) return { allowed: true, by: 'system:masters' };
    for (const binding of this.bindings) {
      if (!binding.subjects.some((subject) => appliesTo(subject, user, binding.namespace))) continue;
      // A RoleBinding grants in its own namespace only, even when it points at a ClusterRole.
      if (binding.kind === 'RoleBinding' && (!attrs.resourceRequest || attrs.namespace !== binding.namespace)) continue;
      const role = binding.roleRef.kind === 'ClusterRole'
        ? this.roles.get(roleKey('ClusterRole', binding.roleRef.name))
        : this.roles.get(roleKey('Role', binding.roleRef.name, binding.namespace));
      if (!role) continue;
      const index = role.rules.findIndex((rule) => ruleAllows(rule, attrs));
      if (index >= 0) {
        const by = `${role.kind}/${role.name}#${index}`;
        if (attrs.resourceRequest) {
          this.uses.push({
            role: role.name, rule: index, verb: attrs.verb, apiGroup: attrs.apiGroup, user: user.username,
            resource: attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource,
          });
        }
        return { allowed: true, by };
      }
    }
    return { allowed: false };
  }
}

/** The Status error kube-apiserver answers a refused request with (responsewriters.Forbidden + apierrors.NewForbidden). */
export function forbidden(user: UserInfo, attrs: RequestAttributes): KubeError {
  let reason: string;
  if (!attrs.resourceRequest) {
    reason = `User "${user.username}" cannot ${attrs.verb} path "${attrs.path}"`;
    return new KubeError(403, 'Forbidden', `forbidden: ${reason}`, {});
  }
  const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  reason = attrs.namespace
    ? `User "${user.username}" cannot ${attrs.verb} resource "${resource}" in API group "${attrs.apiGroup}" in the namespace "${attrs.namespace}"`
    : `User "${user.username}" cannot ${attrs.verb} resource "${resource}" in API group "${attrs.apiGroup}" at the cluster scope`;
  const qualified = attrs.apiGroup ? `${attrs.resource}.${attrs.apiGroup}` : attrs.resource;
  const message = attrs.name ? `${qualified} "${attrs.name}" is forbidden: ${reason}` : `${qualified} is forbidden: ${reason}`;
  const details: Record<string, unknown> = { kind: attrs.resource };
  if (attrs.name) details.name = attrs.name;
  if (attrs.apiGroup) details.group = attrs.apiGroup;
  return new KubeError(403, 'Forbidden', message, details);
}

/**
 * Request attributes from method, path and query, as RequestInfoFactory
 * (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go) derives them.
 */
export function requestAttributes(method: string, path: string, query: URLSearchParams): RequestAttributes {
  const base: RequestAttributes = {
    verb: method.toLowerCase(), resourceRequest: false, path, apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '',
  };
  let parts = path.replace(/^\/+|\/+$/g, '').split('/').filter(Boolean);
  if (parts[0] === 'api') {
    if (parts.length < 3) return base; // /api, /api/v1: discovery
    base.apiVersion = parts[1];
    parts = parts.slice(2);
  } else if (parts[0] === 'apis') {
    if (parts.length < 4) return base; // /apis, /apis/<group>, /apis/<group>/<version>: discovery
    base.apiGroup = parts[1];
    base.apiVersion = parts[2];
    parts = parts.slice(3);
  } else {
    return base;
  }
  const verbs: Record<string, string> = { POST: 'create', GET: 'get', HEAD: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
  const attrs: RequestAttributes = { ...base, resourceRequest: true, verb: verbs[method.toUpperCase()] ?? '' };
  // The legacy /watch/ prefix.
  if (parts[0] === 'watch') {
    attrs.verb = 'watch';
    parts = parts.slice(1);
  }
  if (parts[0] === 'namespaces' && parts.length > 1) {
    attrs.namespace = parts[1];
    // /namespaces/<ns>[/status|/finalize] is the namespace itself; /namespaces/<ns>/<resource>… is inside it.
    if (parts.length > 2 && !['status', 'finalize'].includes(parts[2])) parts = parts.slice(2);
  }
  attrs.resource = parts[0] ?? '';
  attrs.name = parts[1] ?? '';
  attrs.subresource = parts[2] ?? '';
  if (!attrs.name && attrs.verb === 'get') {
    attrs.verb = ['true', '1'].includes(query.get('watch') ?? '') ? 'watch' : 'list';
    const exactName = /^metadata\.name(==?)([^,]+)$/.exec(query.get('fieldSelector') ?? '');
    if (exactName) attrs.name = exactName[2];
  }
  if (!attrs.name && attrs.verb === 'delete') attrs.verb = 'deletecollection';
  return attrs;
}

function roleKey(kind: string, name: string, namespace?: string): string {
  return kind === 'ClusterRole' ? `ClusterRole/${name}` : `Role/${namespace}/${name}`;
}

function appliesTo(subject: Binding['subjects'][number], user: UserInfo, bindingNamespace?: string): boolean {
  switch (subject.kind) {
    case 'Group': return user.groups.includes(subject.name);
    case 'User': return user.username === subject.name;
    case 'ServiceAccount': return user.username === `system:serviceaccount:${subject.namespace ?? bindingNamespace}:${subject.name}`;
    default: return false;
  }
}

function ruleAllows(rule: PolicyRule, attrs: RequestAttributes): boolean {
  const verbOk = rule.verbs.includes('*') || rule.verbs.includes(attrs.verb);
  if (!verbOk) return false;
  if (!attrs.resourceRequest) {
    return (rule.nonResourceURLs ?? []).some((url) =>
      url === '*' || url === attrs.path || (url.endsWith('*') && attrs.path.startsWith(url.slice(0, -1))));
  }
  const groups = rule.apiGroups ?? [];
  if (!groups.includes('*') && !groups.includes(attrs.apiGroup)) return false;
  const combined = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  const resources = rule.resources ?? [];
  const resourceOk = resources.some((r) => r === '*' || r === combined
    || (attrs.subresource !== '' && r === `*/${attrs.subresource}`)
    || (attrs.subresource !== '' && r === `${attrs.resource}/*`));
  if (!resourceOk) return false;
  const names = rule.resourceNames ?? [];
  return names.length === 0 || (attrs.name !== '' && names.includes(attrs.name));
}
