import type { LabelSelector } from './kube-types';

/**
 * Kubernetes label-selector matching, as the eviction API applies it to a pod's
 * PodDisruptionBudgets (metav1.LabelSelectorAsSelector, then Matches):
 *
 * - a missing selector matches nothing (labels.Nothing());
 * - an empty selector `{}` matches everything: policy/v1 PDBs rely on this to
 *   cover a whole namespace (policy/v1beta1 treated it as nothing);
 * - otherwise every matchLabels pair AND every matchExpressions requirement must hold;
 * - a selector the API server cannot parse (In/NotIn without values,
 *   Exists/DoesNotExist with values, an unknown operator) matches nothing, because
 *   the eviction API skips such a PDB ("This object has an invalid selector, it
 *   does not match the pod"). Label-syntax validation of keys and values is not
 *   repeated here: the API server rejects those PDBs at admission.
 */
export function selectorMatches(
  selector: LabelSelector | null | undefined,
  labels: Record<string, string>,
): boolean {
  if (!selector) return false;
  const matchLabels = Object.entries(selector.matchLabels ?? {});
  const expressions = selector.matchExpressions ?? [];
  if (!expressions.every(isValidRequirement)) return false;
  return (
    matchLabels.every(([key, value]) => hasLabel(labels, key) && labels[key] === value) &&
    expressions.every((e) => requirementHolds(e, labels))
  );
}

type Requirement = NonNullable<LabelSelector['matchExpressions']>[number];

function isValidRequirement(r: Requirement): boolean {
  const count = r.values?.length ?? 0;
  switch (r.operator) {
    case 'In':
    case 'NotIn':
      return count > 0;
    case 'Exists':
    case 'DoesNotExist':
      return count === 0;
    default:
      // Adapters pass the API object's operator through; an unknown one is an invalid selector.
      return false;
  }
}

function requirementHolds(r: Requirement, labels: Record<string, string>): boolean {
  const present = hasLabel(labels, r.key);
  switch (r.operator) {
    case 'In':
      return present && (r.values ?? []).includes(labels[r.key]);
    case 'NotIn':
      // Kubernetes: NotIn also matches when the key is absent.
      return !present || !(r.values ?? []).includes(labels[r.key]);
    case 'Exists':
      return present;
    case 'DoesNotExist':
      return !present;
  }
}

// Own properties only, so a label named `constructor` or `toString` is not "present" by accident.
const hasLabel = (labels: Record<string, string>, key: string): boolean =>
  Object.prototype.hasOwnProperty.call(labels, key);
