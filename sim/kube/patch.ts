/**
 * The three PATCH content types of the API server, on plain JSON objects.
 * Each function returns a new object and never mutates its input.
 */

type Json = any;

/** A patch the server rejects: the caller answers with `status`. */
export class PatchError extends Error {
  constructor(message: string, readonly status: 409 | 422 | 400 | 415) {
    super(message);
  }
}

const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => structuredClone(v);

/** RFC 7386: objects merge, `null` deletes, everything else (arrays too) replaces. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const result: Record<string, Json> = isObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/**
 * The merge key of the lists this fake serves, from the `patchMergeKey` tags
 * of the Kubernetes Go types. A list not named here is replaced, as for a
 * list without a merge strategy.
 */
const mergeKeys: Record<string, string> = {
  taints: 'key',
  conditions: 'type',
  addresses: 'type',
  containers: 'name',
  volumes: 'name',
  ownerReferences: 'uid',
  tolerations: 'key',
};

/**
 * Strategic merge patch, the subset kubectl and controllers send to nodes and
 * pods: a merge patch whose keyed lists merge item by item, honouring the
 * `$patch: delete` / `$patch: replace` directives on list items and objects.
 * `$retainKeys`, `$setElementOrder` and `$deleteFromPrimitiveList` are ignored.
 */
export function strategicMergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  if (patch.$patch === 'replace') return stripDirectives(patch);
  if (patch.$patch === 'delete') return undefined;
  const result: Record<string, Json> = isObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) continue;
    if (value === null) delete result[key];
    else if (Array.isArray(value) && key in mergeKeys && Array.isArray(result[key])) {
      result[key] = mergeKeyedList(result[key], value, mergeKeys[key]);
    } else {
      const merged = strategicMergePatch(result[key], value);
      if (merged === undefined) delete result[key];
      else result[key] = merged;
    }
  }
  return result;
}

function mergeKeyedList(current: Json[], patch: Json[], key: string): Json[] {
  if (patch.some((item) => isObject(item) && item.$patch === 'replace')) {
    return patch.filter((item) => !(isObject(item) && item.$patch === 'replace')).map(stripDirectives);
  }
  const result = clone(current);
  for (const item of patch) {
    const index = result.findIndex((existing) => isObject(existing) && existing[key] === item[key]);
    if (isObject(item) && item.$patch === 'delete') {
      if (index >= 0) result.splice(index, 1);
    } else if (index >= 0) {
      result[index] = strategicMergePatch(result[index], item);
    } else {
      result.push(stripDirectives(item));
    }
  }
  return result;
}

function stripDirectives(value: Json): Json {
  if (Array.isArray(value)) return value.map(stripDirectives);
  if (!isObject(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([k]) => !k.startsWith('$')).map(([k, v]) => [k, stripDirectives(v)]));
}

/** RFC 6902 add/replace/remove/test (what client-node v2 sends by default). */
export function jsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw new PatchError('json patch must be an array of operations', 400);
  let doc = clone(target);
  for (const op of ops) doc = applyOp(doc, op);
  return doc;
}

/** `/metadata/labels/a~1b` → ['metadata', 'labels', 'a/b'] (RFC 6901 escapes ~1 then ~0). */
function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new PatchError(`invalid JSON pointer: ${path}`, 400);
  return path.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function applyOp(doc: Json, op: { op: string; path: string; value?: Json }): Json {
  const tokens = pointer(op.path);
  if (op.op === 'test') {
    const actual = tokens.reduce((node, t) => (node == null ? undefined : node[t]), doc);
    if (JSON.stringify(actual) !== JSON.stringify(op.value)) {
      throw new PatchError(`testing value ${op.path} failed`, 422);
    }
    return doc;
  }
  if (tokens.length === 0) {
    if (op.op === 'remove') throw new PatchError('cannot remove the whole document', 422);
    return clone(op.value);
  }
  const parent = tokens.slice(0, -1).reduce((node, t) => (node == null ? undefined : node[t]), doc);
  const last = tokens[tokens.length - 1];
  if (parent == null || typeof parent !== 'object') {
    throw new PatchError(`doc is missing path: ${op.path}`, 422);
  }
  switch (op.op) {
    case 'add':
      if (Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, clone(op.value));
      else parent[last] = clone(op.value);
      return doc;
    case 'replace':
      if (!(last in parent)) throw new PatchError(`replace operation does not apply: doc is missing key: ${op.path}`, 422);
      parent[last] = clone(op.value);
      return doc;
    case 'remove':
      if (!(last in parent)) throw new PatchError(`remove operation does not apply: doc is missing path: ${op.path}`, 422);
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
      return doc;
    default:
      throw new PatchError(`unsupported JSON patch operation: ${op.op}`, 400);
  }
}

export const patchContentTypes = {
  'application/strategic-merge-patch+json': strategicMergePatch,
  'application/merge-patch+json': mergePatch,
  'application/json-patch+json': jsonPatch,
} as const;
