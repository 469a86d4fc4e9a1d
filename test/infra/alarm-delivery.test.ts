/**
 * Can an alarm's notification reach the topic? Walks every alarm action →
 * topic → topic policy → KMS key policy of the synthesized template and
 * evaluates each policy as AWS would for the request CloudWatch makes on the
 * alarm's behalf (service principal cloudwatch.amazonaws.com, aws:SourceAccount
 * and aws:SourceArn of the alarm, over TLS). A link that would drop the
 * notification ("not authorized to perform: SNS:Publish … because no
 * resource-based policy allows") fails the test with the alarm and the link.
 */
import { synthesizeStack, TEST_ACCOUNT, TEST_PARTITION, TEST_REGION } from '../../sim/workflow/synth';
import { resolveIntrinsics } from './intrinsics';

type Json = Record<string, any>;
interface Resource { Type: string; Properties: Json }
interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: '*' | { AWS?: unknown; Service?: unknown };
  Action: string | string[];
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** The request context of a publication by CloudWatch on behalf of an alarm. */
interface PublishRequest {
  action: string;
  resource: string;
  context: Record<string, string>;
}

/** A Ref/GetAtt of a resource becomes "ref:<id>" / "arn:<id>". */
const resolve = (value: unknown): unknown =>
  resolveIntrinsics(value, { ref: (id) => `ref:${id}`, getAtt: (id, attribute) => `${attribute === 'Arn' ? 'arn' : attribute}:${id}` });

const list = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
/** IAM wildcards: * any run of characters, ? one character; actions compare case-insensitively. */
const like = (pattern: string, value: string, ignoreCase = false): boolean => {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, ignoreCase ? 'i' : '').test(value);
};

const CONDITION_OPERATORS: Record<string, (expected: string, actual: string) => boolean> = {
  StringEquals: (e, a) => e === a,
  StringLike: (e, a) => like(e, a),
  ArnEquals: (e, a) => e === a,
  ArnLike: (e, a) => like(e, a),
  Bool: (e, a) => e.toLowerCase() === a.toLowerCase(),
};

function conditionsHold(statement: Statement, context: Record<string, string>): boolean {
  return Object.entries(statement.Condition ?? {}).every(([operator, keys]) => {
    const test = CONDITION_OPERATORS[operator];
    if (!test) throw new Error(`condition operator ${operator} is not modelled by this test: add it`);
    // A key absent from the request fails every operator here (none is ...IfExists).
    return Object.entries(keys).every(([key, expected]) =>
      context[key] !== undefined && list(expected as string | string[]).some((e) => test(String(e), context[key])));
  });
}

function matches(statement: Statement, request: PublishRequest): boolean {
  const principal = statement.Principal;
  const principalOk = principal === '*'
    || list(principal?.Service as string | string[]).includes('cloudwatch.amazonaws.com')
    || list(principal?.AWS as string | string[]).includes('*');
  return principalOk
    && list(statement.Action).some((action) => like(action, request.action, true))
    && list(statement.Resource as string | string[]).some((resource) => like(resource, request.resource))
    && conditionsHold(statement, request.context);
}

/** Allowed if a statement allows it and none denies it. */
function evaluate(statements: Statement[], request: PublishRequest): 'allowed' | 'denied' | 'not allowed' {
  if (statements.some((s) => s.Effect === 'Deny' && matches(s, request))) return 'denied';
  return statements.some((s) => s.Effect === 'Allow' && matches(s, request)) ? 'allowed' : 'not allowed';
}

/** Why each alarm action of the template could not deliver; empty when all can. */
function undeliverable(resources: Record<string, Resource>): string[] {
  const problems: string[] = [];
  const alarms = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm');
  if (alarms.length === 0) problems.push('no alarm in the template');
  for (const [alarmId, alarm] of alarms) {
    const alarmArn = `arn:${TEST_PARTITION}:cloudwatch:${TEST_REGION}:${TEST_ACCOUNT}:alarm:${alarmId}`;
    const context = { 'aws:SourceAccount': TEST_ACCOUNT, 'aws:SourceArn': alarmArn, 'aws:SecureTransport': 'true' };
    const actions = [...list(alarm.Properties.AlarmActions), ...list(alarm.Properties.OKActions)].map((a) => String(resolve(a)));
    if (actions.length === 0) problems.push(`${alarmId}: no action`);
    for (const action of actions) {
      const topicId = action.startsWith('ref:') ? action.slice(4) : undefined;
      const topic = topicId ? resources[topicId] : undefined;
      if (!topic || topic.Type !== 'AWS::SNS::Topic') {
        problems.push(`${alarmId}: action ${action} is not a topic of this template`);
        continue;
      }
      // The topic policy: without one, only the owner account may publish (no service principal).
      const policies = Object.values(resources).filter((r) => r.Type === 'AWS::SNS::TopicPolicy'
        && list(resolve(r.Properties.Topics) as string[]).includes(action));
      const topicStatements = policies.flatMap((p) => list((resolve(p.Properties.PolicyDocument) as Json).Statement as Statement[]));
      const published = evaluate(topicStatements, { action: 'sns:Publish', resource: action, context });
      if (published !== 'allowed') problems.push(`${alarmId} → ${topicId}: the topic policy: sns:Publish ${published}`);

      const keyRef = topic.Properties.KmsMasterKeyId === undefined ? undefined : String(resolve(topic.Properties.KmsMasterKeyId));
      if (keyRef === undefined) continue;
      const keyId = keyRef.replace(/^(arn|ref):/, '');
      const key = resources[keyId];
      if (!key || key.Type !== 'AWS::KMS::Key') {
        problems.push(`${alarmId} → ${topicId}: key ${keyRef} is not a key of this template (alias/aws/sns cannot admit CloudWatch)`);
        continue;
      }
      const keyStatements = list((resolve(key.Properties.KeyPolicy) as Json).Statement as Statement[]);
      // SNS asks KMS for a data key and decrypts it, both on CloudWatch's behalf.
      for (const kmsAction of ['kms:GenerateDataKey', 'kms:Decrypt']) {
        const outcome = evaluate(keyStatements, { action: kmsAction, resource: `arn:${TEST_PARTITION}:kms:${TEST_REGION}:${TEST_ACCOUNT}:key/${keyId}`, context });
        if (outcome !== 'allowed') problems.push(`${alarmId} → ${topicId} → ${keyId}: the key policy: ${kmsAction} ${outcome}`);
      }
    }
  }
  return problems;
}

describe('alarm delivery: every alarm action → topic → topic policy → key policy lets CloudWatch publish', () => {
  const { template } = synthesizeStack({ autoScalingGroupNames: ['asg-a', 'asg-b'] });
  const resources = () => structuredClone(template.toJSON().Resources) as Record<string, Resource>;

  test('the created topic and its key admit this account\'s alarms', () => {
    // Arrange, Act
    const problems = undeliverable(resources());
    // Assert
    expect(problems).toEqual([]);
  });

  test('both grants are for this account\'s alarms only, beside the TLS-only Deny', () => {
    const all = resources();
    const topicPolicy = Object.values(all).find((r) => r.Type === 'AWS::SNS::TopicPolicy')!;
    const statements = (resolve(topicPolicy.Properties.PolicyDocument) as Json).Statement as Statement[];
    expect(statements.map((s) => `${s.Effect} ${s.Sid}`)).toEqual(['Deny AllowPublishThroughSSLOnly', 'Allow CloudWatchAlarmsPublish']);
    const key = Object.values(all).find((r) => r.Type === 'AWS::KMS::Key')!;
    const keyGrant = ((resolve(key.Properties.KeyPolicy) as Json).Statement as Statement[]).find((s) => s.Sid === 'CloudWatchAlarmsPublish')!;
    const conditions = {
      StringEquals: { 'aws:SourceAccount': TEST_ACCOUNT },
      ArnLike: { 'aws:SourceArn': `arn:aws:cloudwatch:${TEST_REGION}:${TEST_ACCOUNT}:alarm:*` },
    };
    expect(statements[1].Condition).toEqual(conditions);
    expect(keyGrant.Condition).toEqual(conditions);
    expect(keyGrant.Action).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);

    // Another account's alarm, or a publication over plain HTTP, gets nowhere.
    const topicArn = String(resolve({ Ref: Object.keys(all).find((id) => all[id].Type === 'AWS::SNS::Topic') }));
    const foreign = { 'aws:SourceAccount': '210987654321', 'aws:SourceArn': 'arn:aws:cloudwatch:us-east-1:210987654321:alarm:x', 'aws:SecureTransport': 'true' };
    expect(evaluate(statements, { action: 'sns:Publish', resource: topicArn, context: foreign })).toBe('not allowed');
    const plain = { 'aws:SourceAccount': TEST_ACCOUNT, 'aws:SourceArn': `arn:aws:cloudwatch:${TEST_REGION}:${TEST_ACCOUNT}:alarm:x`, 'aws:SecureTransport': 'false' };
    expect(evaluate(statements, { action: 'sns:Publish', resource: topicArn, context: plain })).toBe('denied');
  });

  test.each([
    ['without the topic grant (only the TLS Deny: the bug this test guards against)', (all: Record<string, Resource>) => {
      const policy = Object.values(all).find((r) => r.Type === 'AWS::SNS::TopicPolicy')!;
      policy.Properties.PolicyDocument.Statement = policy.Properties.PolicyDocument.Statement.filter((s: Statement) => s.Effect === 'Deny');
    }, /the topic policy: sns:Publish not allowed/],
    ['without the key grant', (all: Record<string, Resource>) => {
      const key = Object.values(all).find((r) => r.Type === 'AWS::KMS::Key')!;
      key.Properties.KeyPolicy.Statement = key.Properties.KeyPolicy.Statement.filter((s: Statement) => s.Sid !== 'CloudWatchAlarmsPublish');
    }, /the key policy: kms:GenerateDataKey not allowed/],
    ['with the key grant lacking kms:Decrypt', (all: Record<string, Resource>) => {
      const key = Object.values(all).find((r) => r.Type === 'AWS::KMS::Key')!;
      key.Properties.KeyPolicy.Statement.find((s: Statement) => s.Sid === 'CloudWatchAlarmsPublish').Action = ['kms:GenerateDataKey*'];
    }, /the key policy: kms:Decrypt not allowed/],
    ['with the grants pinned to another account', (all: Record<string, Resource>) => {
      const policy = Object.values(all).find((r) => r.Type === 'AWS::SNS::TopicPolicy')!;
      policy.Properties.PolicyDocument.Statement[1].Condition.StringEquals['aws:SourceAccount'] = '210987654321';
    }, /the topic policy: sns:Publish not allowed/],
  ])('the walk fails %s', (_name, breakIt, message) => {
    const all = resources();
    breakIt(all);
    expect(undeliverable(all).join('\n')).toMatch(message);
  });

  test('with alarmTopicArn, every alarm action is that topic (its policy and key are the owner\'s: see README "Alarms")', () => {
    const arn = `arn:aws:sns:${TEST_REGION}:${TEST_ACCOUNT}:ops-alarms`;
    const { template: theirs } = synthesizeStack({ alarmTopicArn: arn });
    const alarms = Object.values(theirs.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.length).toBeGreaterThan(0);
    for (const alarm of alarms) {
      expect([...alarm.Properties.AlarmActions, ...alarm.Properties.OKActions]).toEqual([arn, arn]);
    }
    theirs.resourceCountIs('AWS::SNS::Topic', 0);
    theirs.resourceCountIs('AWS::KMS::Key', 0);
  });
});
