/**
 * Label and field selectors as the API server parses them from a query string,
 * and the structured LabelSelector of a PodDisruptionBudget.
 */

export type Labels = Record<string, string>;
export type Predicate<T> = (object: T) => boolean;

export interface StructuredSelector {
  matchLabels?: Labels;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

/** A selector the server cannot parse: the caller answers 400 BadRequest. */
export class SelectorError extends Error {}

/** Splits on commas that are not inside `in (a,b)` parentheses. */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  terms.push(current);
  return terms.map((t) => t.trim()).filter((t) => t !== '');
}

function parseLabelTerm(term: string): Predicate<Labels> {
  const set = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
  if (set) {
    const [, key, op, list] = set;
    const values = list.split(',').map((v) => v.trim());
    return op === 'in'
      ? (l) => key in l && values.includes(l[key])
      : (l) => !(key in l) || !values.includes(l[key]);
  }
  const cmp = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
  if (cmp) {
    const [, key, op, value] = cmp;
    return op === '!=' ? (l) => l[key] !== value : (l) => l[key] === value;
  }
  if (/^!\S+$/.test(term)) return (l) => !(term.slice(1) in l);
  if (/^\S+$/.test(term)) return (l) => term in l;
  throw new SelectorError(`unable to parse requirement: ${term}`);
}

/** `app=web,tier in (a,b),!legacy` → predicate over a label map. An empty selector matches everything. */
export function parseLabelSelector(selector: string | undefined): Predicate<Labels> {
  const terms = splitTerms(selector ?? '').map(parseLabelTerm);
  return (labels) => terms.every((t) => t(labels));
}

/** A PDB's selector. As in policy/v1, an empty selector `{}` selects every pod of the namespace. */
export function matchesStructured(selector: StructuredSelector, labels: Labels): boolean {
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpressions = (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    switch (operator) {
      case 'In': return key in labels && values.includes(labels[key]);
      case 'NotIn': return !(key in labels) || !values.includes(labels[key]);
      case 'Exists': return key in labels;
      case 'DoesNotExist': return !(key in labels);
      default: throw new SelectorError(`${operator} is not a valid label selector operator`);
    }
  });
  return byLabels && byExpressions;
}

/**
 * `spec.nodeName=n1,status.phase!=Succeeded`. Only the fields the real server
 * indexes for the resource are accepted; others are a 400, as in Kubernetes
 * ("field label not supported").
 */
export function parseFieldSelector(
  selector: string | undefined,
  fields: Record<string, (o: any) => string>,
): Predicate<unknown> {
  const terms = splitTerms(selector ?? '').map((term) => {
    const m = /^([^!=]+)(==|=|!=)(.*)$/.exec(term);
    if (!m) throw new SelectorError(`invalid field selector: ${term}`);
    const [, field, op, value] = m;
    const read = fields[field.trim()];
    if (!read) throw new SelectorError(`field label not supported: ${field.trim()}`);
    return op === '!=' ? (o: unknown) => read(o) !== value : (o: unknown) => read(o) === value;
  });
  return (object) => terms.every((t) => t(object));
}
