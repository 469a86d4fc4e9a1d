/**
 * ValidatingAdmissionPolicies, evaluated as kube-apiserver does for the
 * requests they match: matchConstraints (operation, resource), then every
 * matchCondition, then the variables in order (each sees those before it), then
 * each validation; a validation that is false (or fails to evaluate, with
 * failurePolicy Fail) refuses the request with its message. The CEL is
 * evaluated by @bufbuild/cel, a CEL interpreter conformance-tested against
 * cel-spec; the Kubernetes CEL libraries (quantity, IP, …) are not there, and
 * a policy that needs them fails loudly instead of passing.
 */
import { isCelError, run, type CelInput } from '@bufbuild/cel';
import { parseAllDocuments } from 'yaml';
import type { UserInfo } from './rbac';

export interface AdmissionRequest {
  operation: 'CREATE' | 'UPDATE' | 'DELETE';
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  object: unknown;
  oldObject: unknown;
  user: UserInfo;
}

export interface AdmissionVerdict {
  allowed: boolean;
  /** The policy and the message of each refusal, as the API server reports them. */
  refusals: string[];
}

interface Policy {
  name: string;
  failurePolicy: 'Fail' | 'Ignore';
  resourceRules: Array<{ apiGroups: string[]; apiVersions: string[]; operations: string[]; resources: string[] }>;
  matchConditions: Array<{ name: string; expression: string }>;
  variables: Array<{ name: string; expression: string }>;
  validations: Array<{ expression: string; message?: string; reason?: string }>;
}

export class AdmissionPolicies {
  private readonly policies = new Map<string, Policy>();
  /** Policy name → name of the (Deny) binding that puts it in force. */
  private readonly bound = new Map<string, string>();

  /** Applies the ValidatingAdmissionPolicies and bindings of a YAML stream; other kinds are ignored. */
  apply(yamlText: string): this {
    for (const document of parseAllDocuments(yamlText)) {
      if (document.errors.length > 0) throw new Error(`admission manifest: ${document.errors[0].message}`);
      const object = document.toJS() as Record<string, any> | null;
      if (!object) continue;
      if (object.kind === 'ValidatingAdmissionPolicy') {
        const spec = object.spec ?? {};
        if (spec.paramKind) throw new Error(`${object.metadata.name}: paramKind is not modelled`);
        this.policies.set(object.metadata.name, {
          name: object.metadata.name,
          failurePolicy: spec.failurePolicy ?? 'Fail',
          resourceRules: spec.matchConstraints?.resourceRules ?? [],
          matchConditions: spec.matchConditions ?? [],
          variables: spec.variables ?? [],
          validations: spec.validations ?? [],
        });
      } else if (object.kind === 'ValidatingAdmissionPolicyBinding') {
        const spec = object.spec ?? {};
        if (spec.matchResources || spec.paramRef) throw new Error(`${object.metadata.name}: matchResources and paramRef are not modelled`);
        if (!(spec.validationActions ?? []).includes('Deny')) continue; // Warn/Audit refuse nothing
        this.bound.set(spec.policyName, object.metadata.name);
      }
    }
    return this;
  }

  get size(): number {
    return [...this.bound.keys()].filter((name) => this.policies.has(name)).length;
  }

  admit(request: AdmissionRequest): AdmissionVerdict {
    const refusals: string[] = [];
    for (const [name, binding] of this.bound) {
      const policy = this.policies.get(name);
      if (!policy || !matches(policy, request)) continue;
      refusals.push(...evaluatePolicy(policy, request, binding));
    }
    return { allowed: refusals.length === 0, refusals };
  }
}

function matches(policy: Policy, request: AdmissionRequest): boolean {
  const resource = request.subresource ? `${request.resource}/${request.subresource}` : request.resource;
  const anyOf = (values: string[], value: string) => values.includes('*') || values.includes(value);
  return policy.resourceRules.some((rule) => anyOf(rule.apiGroups, request.apiGroup) && anyOf(rule.apiVersions, request.apiVersion)
    && anyOf(rule.operations, request.operation) && anyOf(rule.resources, resource));
}

/** The refusals of one policy (empty: admitted). */
export function evaluatePolicy(policy: Policy, request: AdmissionRequest, binding = policy.name): string[] {
  const context: Record<string, CelInput> = {
    object: (request.object ?? null) as CelInput,
    oldObject: (request.oldObject ?? null) as CelInput,
    request: {
      operation: request.operation,
      userInfo: { username: request.user.username, groups: request.user.groups },
      resource: { group: request.apiGroup, version: request.apiVersion, resource: request.resource },
      subResource: request.subresource,
    },
  };
  const failed = (what: string, error: unknown) =>
    (policy.failurePolicy === 'Fail' ? [`ValidatingAdmissionPolicy '${policy.name}' ${what} failed to evaluate: ${String(error)}`] : []);
  for (const condition of policy.matchConditions) {
    const value = run(condition.expression, context);
    if (isCelError(value)) return failed(`matchCondition '${condition.name}'`, value);
    if (value !== true) return [];
  }
  const variables: Record<string, CelInput> = {};
  context.variables = variables as CelInput;
  for (const variable of policy.variables) {
    const value = run(variable.expression, context);
    if (isCelError(value)) return failed(`variable '${variable.name}'`, value);
    variables[variable.name] = value as CelInput;
  }
  const refusals: string[] = [];
  for (const validation of policy.validations) {
    const value = run(validation.expression, context);
    if (isCelError(value)) refusals.push(...failed('validation', value));
    else if (value !== true) {
      refusals.push(`ValidatingAdmissionPolicy '${policy.name}' with binding '${binding}' denied request: ${validation.message ?? `failed expression: ${validation.expression}`}`);
    }
  }
  return refusals;
}
