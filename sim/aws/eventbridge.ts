/**
 * EventBridge's part of an event's delivery, evaluated from the synthesized
 * rules: which rule an event matches (the exact-value subset of event
 * patterns this project uses) and what the target receives (Input,
 * InputPath or InputTransformer, as EventBridge renders them). The local
 * workflow delivers every event through here, so a rule or transformer that
 * drops a field the drain reads, or lets one through it must not see (the
 * lifecycle token), fails the workflow tests.
 *
 * Input transformer semantics (EventBridge user guide, "Amazon EventBridge
 * input transformation", and the AWS-recorded snapshots of LocalStack's
 * test_events_inputs.py):
 * - InputPathsMap values are JSON paths in dot notation with array indices
 *   (`$.detail.EC2InstanceId`, `$.detail-type`, `$.resources[0]`); keys match
 *   [A-Za-z0-9_-]+ and may not start with `aws.`; a `<placeholder>` of the
 *   template that is neither a key nor a predefined variable, or one used as
 *   an object key in a JSON template, is refused when the target is put.
 * - A template starting with `{` is JSON: an unquoted placeholder becomes the
 *   value's JSON (a string with its quotes, an object as an object); a path
 *   that matches nothing, or null, becomes `""`. Inside a JSON string, a
 *   placeholder becomes the value's text, not escaped (a string without its
 *   quotes), a missing one nothing.
 * - Any other template is a quoted string, its placeholders read as inside a
 *   JSON string.
 * - Predefined: `aws.events.rule-arn`, `aws.events.rule-name`,
 *   `aws.events.event.ingestion-time` (here: the event's time),
 *   `aws.events.event` (the envelope without `detail`, `detail-type` as
 *   `detailType`), `aws.events.event.json` (the whole event).
 */

export interface InputTransformer {
  InputPathsMap?: Record<string, string>;
  InputTemplate: string;
}

/** A rule target, as AWS::Events::Rule writes it (tokens resolved). */
export interface RuleTarget {
  Arn: string;
  Id: string;
  Input?: string;
  InputPath?: string;
  InputTransformer?: InputTransformer;
  DeadLetterConfig?: { Arn: string };
  RetryPolicy?: { MaximumRetryAttempts?: number; MaximumEventAgeInSeconds?: number };
}

export interface EventRule {
  name: string;
  arn: string;
  pattern: Record<string, unknown>;
  targets: RuleTarget[];
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Whether `event` matches `pattern`. Supports what this project's rules use:
 * nested objects and arrays of exact values (a field matches when its value,
 * or any element of an array value, equals one of them). Content filters
 * (prefix, anything-but, exists, numeric, …) throw: extend this first.
 */
export function matchesPattern(pattern: Record<string, unknown>, event: unknown): boolean {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return false;
  const record = event as Record<string, unknown>;
  return Object.entries(pattern).every(([field, expected]) => {
    const value = record[field];
    if (Array.isArray(expected)) {
      for (const candidate of expected) {
        if (candidate !== null && typeof candidate === 'object') throw new Error(`content filter ${JSON.stringify(candidate)} is not supported by this evaluator`);
      }
      if (value === undefined) return false;
      const values = Array.isArray(value) ? value : [value];
      return values.some((v) => expected.some((candidate) => candidate === v));
    }
    if (expected !== null && typeof expected === 'object') return matchesPattern(expected as Record<string, unknown>, value);
    throw new Error(`pattern field ${field} must be an array or an object, not ${JSON.stringify(expected)}`);
  });
}

const PATH = /^\$((?:\.[A-Za-z0-9_\-/]+(?:\[\d+\])*)*)$/;

/** The value a dot-notation JSON path names in `event`, or undefined when it names nothing. */
export function evaluatePath(event: unknown, path: string): unknown {
  const match = PATH.exec(path);
  if (!match) throw new Error(`JSON path ${path} is not in EventBridge's dot notation (no wildcards or brackets around names here)`);
  let current: unknown = event;
  for (const segment of match[1].split('.').slice(1)) {
    const [name, ...indices] = segment.split('[');
    current = isRecord(current) ? current[name] : undefined;
    for (const index of indices) {
      current = Array.isArray(current) ? current[Number(index.slice(0, -1))] : undefined;
    }
    if (current === undefined) return undefined;
  }
  return current;
}

const PREDEFINED = ['aws.events.rule-arn', 'aws.events.rule-name', 'aws.events.event.ingestion-time', 'aws.events.event', 'aws.events.event.json'];
const PLACEHOLDER = /<([^<>]*)>/g;

/** Checks a transformer as PutTargets does: what EventBridge would refuse to store. */
export function validateInputTransformer(transformer: InputTransformer): void {
  const paths = transformer.InputPathsMap ?? {};
  if (Object.keys(paths).length > 100) throw new Error('InputPathsMap holds more than 100 variables');
  for (const [key, path] of Object.entries(paths)) {
    if (/^aws\./i.test(key)) throw new Error(`InputPathsMap key ${key} may not start with "aws."`);
    if (!/^[A-Za-z0-9_-]{1,256}$/.test(key)) throw new Error(`InputPathsMap key ${key} does not match [A-Za-z0-9_-]{1,256}`);
    evaluatePath({}, path); // syntax only
  }
  const template = transformer.InputTemplate;
  if (template.length < 1 || template.length > 8192) throw new Error('InputTemplate must be 1 to 8192 characters');
  for (const match of template.matchAll(PLACEHOLDER)) {
    const name = match[1];
    if (!(name in paths) && !PREDEFINED.includes(name)) throw new Error(`InputTemplate contains invalid placeholder ${name}`);
    const json = template.trim().startsWith('{');
    const end = match.index! + match[0].length;
    if (json && !insideJsonString(template, match.index!) && /^\s*:/.test(template.slice(end))) {
      throw new Error(`placeholder <${name}> used as an object key: not allowed in a JSON InputTemplate`);
    }
  }
}

/** The text EventBridge sends the target for `event` through `transformer`. */
export function renderInputTransformer(transformer: InputTransformer, event: Record<string, unknown>, rule: { name: string; arn: string }): string {
  validateInputTransformer(transformer);
  const values = new Map<string, unknown>();
  for (const [key, path] of Object.entries(transformer.InputPathsMap ?? {})) values.set(key, evaluatePath(event, path));
  const { detail: _detail, 'detail-type': detailType, ...envelope } = event;
  void _detail;
  values.set('aws.events.rule-arn', rule.arn);
  values.set('aws.events.rule-name', rule.name);
  values.set('aws.events.event.ingestion-time', event.time);
  values.set('aws.events.event', { ...envelope, detailType });
  values.set('aws.events.event.json', event);

  const template = transformer.InputTemplate;
  if (template.trim().startsWith('{')) {
    return template.replace(PLACEHOLDER, (_placeholder, name: string, offset: number) => {
      const value = values.get(name);
      if (insideJsonString(template, offset)) return text(value);
      return value === undefined || value === null ? '""' : JSON.stringify(value);
    });
  }
  return template.replace(PLACEHOLDER, (_placeholder, name: string) => text(values.get(name)));
}

/** A value as it reads inside a string: a string as is (not escaped, as EventBridge does), "" when missing. */
function text(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** What a rule's target receives for `event`, as the JSON text Lambda is invoked with. */
export function targetPayload(target: RuleTarget, event: Record<string, unknown>, rule: { name: string; arn: string }): string {
  if (target.Input !== undefined) return target.Input;
  if (target.InputPath !== undefined) return JSON.stringify(evaluatePath(event, target.InputPath) ?? null);
  if (target.InputTransformer) return renderInputTransformer(target.InputTransformer, event, rule);
  return JSON.stringify(event);
}

/** A message of a Lambda function's asynchronous-invocation DLQ: the payload, and why it failed. */
export interface DeadLetter {
  functionArn: string;
  queueArn: string;
  body: string;
  attributes: { ErrorCode: string; ErrorMessage: string };
}

/**
 * Delivers events to functions as EventBridge does: through the rule whose
 * pattern matches and the target's input. An invocation that throws is, once
 * Lambda's asynchronous retries are spent (not replayed here), a message of
 * the function's dead-letter queue, if it has one: the payload it received.
 */
export class SimulatedEventBridge {
  readonly deadLetters: DeadLetter[] = [];
  /** Every payload a function was invoked with, in order. */
  readonly deliveries: Array<{ rule: string; functionArn: string; body: string }> = [];

  constructor(
    private readonly rules: EventRule[],
    private readonly functionDeadLetterQueues: Record<string, string | undefined>,
  ) {
    for (const rule of rules) for (const target of rule.targets) if (target.InputTransformer) validateInputTransformer(target.InputTransformer);
  }

  /** The rule and target through which `event` reaches the function `functionArn`; throws if none would. */
  route(functionArn: string, event: unknown): { rule: EventRule; target: RuleTarget } {
    const routes = this.rules.flatMap((rule) =>
      matchesPattern(rule.pattern, event) ? rule.targets.filter((t) => t.Arn === functionArn).map((target) => ({ rule, target })) : [],
    );
    if (routes.length === 0) throw new Error(`EventBridge would not deliver this event to ${functionArn}: it matches none of its rules`);
    if (routes.length > 1) throw new Error(`the event matches ${routes.length} rules targeting ${functionArn}: it would be delivered ${routes.length} times`);
    return routes[0];
  }

  async deliver<T>(functionArn: string, event: unknown, invoke: (payload: Json) => Promise<T>): Promise<T> {
    const { rule, target } = this.route(functionArn, event);
    const body = targetPayload(target, event as Record<string, unknown>, rule);
    this.deliveries.push({ rule: rule.name, functionArn, body });
    try {
      return await invoke(JSON.parse(body) as Json);
    } catch (err) {
      const queueArn = this.functionDeadLetterQueues[functionArn];
      if (queueArn) {
        const error = err as Error;
        this.deadLetters.push({ functionArn, queueArn, body, attributes: { ErrorCode: '200', ErrorMessage: error.message } });
      }
      throw err;
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether `offset` in a JSON text lies inside a string literal. */
function insideJsonString(text: string, offset: number): boolean {
  let inside = false;
  for (let i = 0; i < offset; i++) {
    if (text[i] === '\\' && inside) i++;
    else if (text[i] === '"') inside = !inside;
  }
  return inside;
}
