/**
 * A small typed validator for the rehearsal's scenario files: each schema
 * parses an `unknown` into a typed value or records issues with the path of
 * the offending field (`workloads.deployments[0].replicas`), so that a bad
 * file is reported all at once, field by field. No I/O here.
 */

export type Path = Array<string | number>;

export interface Issue {
  path: Path;
  message: string;
}

/** Marks a value that failed to parse; its issues are already recorded. */
export const INVALID: unique symbol = Symbol('invalid');
type Parsed<T> = T | typeof INVALID;

export interface Schema<T> {
  /** What a valid value looks like, for messages: "an integer from 30 to 7200". */
  readonly expected: string;
  parse(value: unknown, path: Path, issues: Issue[]): Parsed<T>;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

/** `workloads.deployments[0].replicas`; the root is `(top level)`. */
export function formatPath(path: Path): string {
  if (path.length === 0) return '(top level)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** How a wrong value is shown in a message: its YAML-ish spelling and its kind. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}

function mismatch(issues: Issue[], path: Path, expected: string, value: unknown): typeof INVALID {
  issues.push({ path, message: `expected ${expected}, got ${describeValue(value)}` });
  return INVALID;
}

export function string(opts: { pattern?: RegExp; expected?: string } = {}): Schema<string> {
  const expected = opts.expected ?? 'a string';
  return {
    expected,
    parse(value, path, issues) {
      if (typeof value !== 'string' || value === '') return mismatch(issues, path, expected, value);
      if (opts.pattern && !opts.pattern.test(value)) return mismatch(issues, path, expected, value);
      return value;
    },
  };
}

/** An integer in [min, max]; `also` lists single extra values allowed outside the range (0 = "no limit"). */
export function integer(opts: { min?: number; max?: number; also?: number[]; unit?: string } = {}): Schema<number> {
  const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER, also = [] } = opts;
  const range =
    opts.max !== undefined ? `from ${min} to ${max}` : opts.min !== undefined ? `of at least ${min}` : '';
  const unit = opts.unit ? ` (${opts.unit})` : '';
  const expected = `an integer ${range}${also.length ? `, or ${also.join(' or ')}` : ''}${unit}`.replace(/ +/g, ' ').replace(' ,', ',');
  return {
    expected,
    parse(value, path, issues) {
      if (typeof value !== 'number' || !Number.isInteger(value)) return mismatch(issues, path, expected, value);
      if (!also.includes(value) && (value < min || value > max)) return mismatch(issues, path, expected, value);
      return value;
    },
  };
}

export function boolean(): Schema<boolean> {
  return {
    expected: 'true or false',
    parse(value, path, issues) {
      return typeof value === 'boolean' ? value : mismatch(issues, path, 'true or false', value);
    },
  };
}

export function oneOf<const T extends string>(values: readonly T[]): Schema<T> {
  const expected = `one of ${values.join(', ')}`;
  return {
    expected,
    parse(value, path, issues) {
      return values.includes(value as T) ? (value as T) : mismatch(issues, path, expected, value);
    },
  };
}

/** Tries each schema in turn; the first that parses wins. Issues are reported against `expected`. */
export function either<A, B>(a: Schema<A>, b: Schema<B>, expected = `${a.expected}, or ${b.expected}`): Schema<A | B> {
  return {
    expected,
    parse(value, path, issues) {
      for (const schema of [a, b] as Array<Schema<A | B>>) {
        const scratch: Issue[] = [];
        const parsed = schema.parse(value, path, scratch);
        if (parsed !== INVALID && scratch.length === 0) return parsed;
      }
      return mismatch(issues, path, expected, value);
    },
  };
}

export function list<T>(item: Schema<T>, opts: { minItems?: number } = {}): Schema<T[]> {
  const expected = `a list of ${item.expected}`;
  return {
    expected,
    parse(value, path, issues) {
      if (!Array.isArray(value)) return mismatch(issues, path, expected, value);
      if (opts.minItems !== undefined && value.length < opts.minItems) {
        issues.push({ path, message: `needs at least ${opts.minItems} item${opts.minItems === 1 ? '' : 's'}` });
        return INVALID;
      }
      const out: T[] = [];
      let ok = true;
      value.forEach((v, i) => {
        const parsed = item.parse(v, [...path, i], issues);
        if (parsed === INVALID) ok = false;
        else out.push(parsed);
      });
      return ok ? out : INVALID;
    },
  };
}

/** A mapping of string keys to values of one schema (labels, matchLabels). */
export function dictionary<T>(value: Schema<T>): Schema<Record<string, T>> {
  const expected = `a mapping of names to ${value.expected}`;
  return {
    expected,
    parse(input, path, issues) {
      if (!isMapping(input)) return mismatch(issues, path, expected, input);
      const out: Record<string, T> = {};
      let ok = true;
      for (const [k, v] of Object.entries(input)) {
        const parsed = value.parse(v, [...path, k], issues);
        if (parsed === INVALID) ok = false;
        else out[k] = parsed;
      }
      return ok ? out : INVALID;
    },
  };
}

interface Field<T, Opt extends boolean> {
  schema: Schema<T>;
  optional: Opt;
  fallback?: T;
}

/** A key that must be present. */
export const required = <T>(schema: Schema<T>): Field<T, false> => ({ schema, optional: false });
/** A key that may be left out; without a fallback it is then undefined. */
export function optional<T>(schema: Schema<T>): Field<T, true>;
export function optional<T>(schema: Schema<T>, fallback: NoInfer<T>): Field<T, false>;
export function optional<T>(schema: Schema<T>, fallback?: T): Field<T, boolean> {
  return fallback === undefined ? { schema, optional: true } : { schema, optional: false, fallback };
}

type Fields = Record<string, Field<any, boolean>>;
type ObjectOf<F extends Fields> = {
  [K in keyof F as F[K] extends Field<any, true> ? never : K]: F[K] extends Field<infer T, boolean> ? T : never;
} & {
  [K in keyof F as F[K] extends Field<any, true> ? K : never]?: F[K] extends Field<infer T, boolean> ? T : never;
};

/**
 * A mapping with known keys. Unknown keys are errors (a typo must not be
 * silently ignored); `check` adds the rules that span several fields.
 */
export function object<F extends Fields>(
  what: string,
  fields: F,
  check?: (value: ObjectOf<F>, report: (at: string | Path | undefined, message: string) => void) => void,
): Schema<ObjectOf<F>> {
  const expected = `a mapping (${what})`;
  return {
    expected,
    parse(value, path, issues) {
      if (!isMapping(value)) return mismatch(issues, path, expected, value);
      const before = issues.length;
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(value)) {
        if (!(key in fields)) {
          const hint = closest(key, Object.keys(fields));
          issues.push({
            path: [...path, key],
            message: `unknown key "${key}" in ${what}${hint ? ` (did you mean "${hint}"?)` : ''}; allowed: ${Object.keys(fields).join(', ')}`,
          });
        }
      }
      for (const [key, field] of Object.entries(fields)) {
        const present = value[key] !== undefined && value[key] !== null;
        if (!present) {
          if (field.fallback !== undefined) out[key] = structuredClone(field.fallback);
          else if (!field.optional) issues.push({ path: [...path, key], message: `missing: ${what} needs "${key}" (${field.schema.expected})` });
          continue;
        }
        const parsed = field.schema.parse(value[key], [...path, key], issues);
        if (parsed !== INVALID) out[key] = parsed;
      }
      if (issues.length > before) return INVALID;
      check?.(out as ObjectOf<F>, (at, message) => issues.push({ path: at === undefined ? path : [...path, ...(Array.isArray(at) ? at : [at])], message }));
      return issues.length > before ? INVALID : (out as ObjectOf<F>);
    },
  };
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The allowed key nearest to a misspelt one: within edit distance 2, or one that starts with it. */
function closest(key: string, allowed: string[]): string | undefined {
  const prefixed = key.length >= 4 ? allowed.find((name) => name.toLowerCase().startsWith(key.toLowerCase())) : undefined;
  if (prefixed) return prefixed;
  let best: { name: string; distance: number } | undefined;
  for (const name of allowed) {
    const distance = editDistance(key.toLowerCase(), name.toLowerCase());
    if (distance <= 2 && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}
