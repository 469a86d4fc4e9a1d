import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadScenario, parseScenario, ScenarioError } from '../../../sim/rehearsal/scenario-file';

const EXAMPLES = join(__dirname, '../../../examples');

const minimal = `
nodes:
  - name: ip-10-0-0-1.ec2.internal
    instanceId: i-0aaaaaaaaaaaaaaa1
    terminate: true
  - name: ip-10-0-0-2.ec2.internal
    instanceId: i-0aaaaaaaaaaaaaaa2
`;

function issuesOf(text: string): string[] {
  try {
    parseScenario(text, 'bad.yaml');
  } catch (err) {
    if (err instanceof ScenarioError) return err.issues.map((i) => `${i.where}: ${i.message}`);
    throw err;
  }
  throw new Error('expected the scenario to be rejected');
}

describe('scenario files', () => {
  test.each(readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml')))('example %s is valid', (file) => {
    // Act
    const scenario = loadScenario(join(EXAMPLES, file));

    // Assert
    expect(scenario.terminations.length + scenario.interruptions.length).toBeGreaterThan(0);
    expect(scenario.name).toBe(file.replace(/\.yaml$/, ''));
  });

  test('fills in the defaults and resolves "all" to the node names', () => {
    // Act
    const s = parseScenario(`${minimal}\nworkloads:\n  daemonsets:\n    - { namespace: kube-system, name: aws-node }\n`, 'x.yaml');

    // Assert
    expect(s.hook.heartbeatTimeoutSeconds).toBe(1800);
    expect(s.drain).toEqual({ maxDrainSeconds: 0, onDeadline: 'force-delete', sweepIntervalMinutes: 5, waitForJobPods: false });
    expect(s.workloads.daemonsets[0].nodes).toEqual(['ip-10-0-0-1.ec2.internal', 'ip-10-0-0-2.ec2.internal']);
    expect(s.terminations).toEqual([{ node: 'ip-10-0-0-1.ec2.internal', instanceId: 'i-0aaaaaaaaaaaaaaa1', afterSeconds: 0, eventLost: false }]);
    expect(s.interruptions).toEqual([]);
  });

  test.each([
    ['an unknown key, with a suggestion', `${minimal}hook:\n  heartbeatTimeout: 60\n`, /^line 9:21 hook\.heartbeatTimeout: unknown key "heartbeatTimeout" in hook \(did you mean "heartbeatTimeoutSeconds"\?\)/],
    ['a wrong type, with the path and line', `${minimal}workloads:\n  deployments:\n    - { namespace: shop, name: web, replicas: six, node: ip-10-0-0-1.ec2.internal }\n`, /^line 10:47 workloads\.deployments\[0\]\.replicas: expected an integer from 1 to 500, got the string "six"$/],
    ['a heartbeat timeout out of range', `${minimal}hook: { heartbeatTimeoutSeconds: 10 }\n`, /hook\.heartbeatTimeoutSeconds: expected an integer from 120 to 7200 \(seconds\), got number 10/],
    ['an unknown deadline policy', `${minimal}drain: { onDeadline: wait }\n`, /drain\.onDeadline: expected one of force-delete, continue, abandon, got the string "wait"/],
    ['a missing field', `nodes:\n  - { name: a, terminate: true }\n`, /nodes\[0\]\.instanceId: missing: a node needs "instanceId"/],
    ['a bad instance id', `nodes:\n  - { name: a, instanceId: i-xyz, terminate: true }\n`, /nodes\[0\]\.instanceId: expected an EC2 instance id/],
    ['a reference to a node that does not exist', `${minimal}workloads:\n  jobs:\n    - { name: report, node: ip-10-0-0-9.ec2.internal }\n`, /workloads\.jobs\[0\]\.node: no node named ip-10-0-0-9\.ec2\.internal in "nodes"/],
    ['nothing to terminate', `nodes:\n  - { name: a, instanceId: i-0aaaaaaaaaaaaaaa1 }\n`, /nodes: no node is terminated/],
    ['both node and nodes on a deployment', `${minimal}workloads:\n  deployments:\n    - { namespace: s, name: w, replicas: 1, node: ip-10-0-0-1.ec2.internal, nodes: all }\n`, /workloads\.deployments\[0\]: give either "node" or "nodes"/],
    ['a PDB without a budget', `${minimal}workloads:\n  pdbs:\n    - { namespace: s, name: w, selector: { app: w } }\n`, /workloads\.pdbs\[0\]: give either "minAvailable" or "maxUnavailable"/],
    ['the same node twice', `${minimal}  - { name: ip-10-0-0-1.ec2.internal, instanceId: i-0aaaaaaaaaaaaaaa3 }\n`, /nodes\[2\]\.name: node ip-10-0-0-1\.ec2\.internal is listed twice/],
    ['YAML that does not parse', `nodes: [\n`, /^line \d+:\d+: not valid YAML/],
    ['a document that is not a mapping', `- just a list\n`, /\(top level\): expected a mapping \(the scenario\), got a list/],
  ])('rejects %s', (_what, text, expected) => {
    // Act
    const issues = issuesOf(text);

    // Assert
    expect(issues).toEqual(expect.arrayContaining([expect.stringMatching(expected)]));
  });

  test('reports every problem of a file at once', () => {
    // Act
    const issues = issuesOf(`nodes:\n  - { name: a, instanceId: nope, terminate: yes please }\nhook: { heartbeatTimeoutSeconds: "1800" }\n`);

    // Assert
    expect(issues).toHaveLength(3);
  });

  test('a file that cannot be read is a ScenarioError too', () => {
    // Act / Assert
    expect(() => loadScenario('/nonexistent/scenario.yaml')).toThrow(/cannot read it \(ENOENT\)/);
  });
});
