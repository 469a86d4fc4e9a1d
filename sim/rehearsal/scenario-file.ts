/**
 * The rehearsal's scenario file: what cluster to build, which instances the
 * Auto Scaling group terminates and when, how the drain is configured, and
 * (optionally) what outcome to expect. The format is documented at the top of
 * examples/default.yaml; this module is its schema and its loader. Errors name
 * the field (`workloads.deployments[0].replicas`) and its line in the file.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import { DEADLINE_POLICIES, LIMITS } from '../../lib/graceful-drain';
import {
  boolean, dictionary, either, formatPath, integer, INVALID, list, object, oneOf, optional, required, string,
  type Infer, type Issue, type Path,
} from './schema';

/** Kubernetes names: DNS subdomains (nodes, pods, workloads) and DNS labels (namespaces). */
const dnsSubdomain = string({ pattern: /^(?=.{1,253}$)[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, expected: 'a Kubernetes name (lower-case letters, digits, "-" and ".")' });
const dnsLabel = string({ pattern: /^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, expected: 'a namespace name (lower-case letters, digits and "-", at most 63)' });
/** As lambda/core/lifecycle-event.ts accepts them. */
const instanceId = string({ pattern: /^i-[0-9a-f]{8,17}$/, expected: 'an EC2 instance id (i- and 8 to 17 hex digits)' });
const seconds = (min = 0, max?: number) => integer({ min, max, unit: 'seconds' });
const labels = dictionary(string({ expected: 'a label value' }));
/** A PDB's minAvailable / maxUnavailable: a count or a percentage. */
const intOrPercent = either(integer({ min: 0 }), string({ pattern: /^\d{1,3}%$/, expected: 'a percentage' }), 'an integer ≥ 0 or a percentage such as "25%"');
/** Nodes a workload runs on: a list of node names, or `all`. */
const nodeList = either(list(dnsSubdomain, { minItems: 1 }), oneOf(['all'] as const), 'a list of node names, or "all"');

const hook = object('hook', {
  /** Heartbeat timeout of the lifecycle hook; its global timeout is min(100 × this, 48 h). */
  heartbeatTimeoutSeconds: optional(seconds(LIMITS.heartbeatTimeoutSeconds.min, LIMITS.heartbeatTimeoutSeconds.max), 1800),
});

const drain = object('drain', {
  /** 0 means as long as the hook's global timeout allows. */
  maxDrainSeconds: optional(integer({ min: LIMITS.maxDrainSeconds.min, max: LIMITS.maxDrainSeconds.max, also: [0], unit: 'seconds' }), 0),
  onDeadline: optional(oneOf(DEADLINE_POLICIES), 'force-delete'),
  /** Minutes between sweeps, which recover lost lifecycle events. */
  sweepIntervalMinutes: optional(integer({ min: LIMITS.sweepIntervalMinutes.min, max: LIMITS.sweepIntervalMinutes.max, unit: 'minutes' }), 5),
  /** Wait for every Job pod as for a karpenter.sh/do-not-disrupt pod (the construct's waitForJobPods). */
  waitForJobPods: optional(boolean(), false),
});

const node = object('a node', {
  name: required(dnsSubdomain),
  instanceId: required(instanceId),
  /** The Auto Scaling group terminates this instance. */
  terminate: optional(boolean(), false),
  /** When, after the start of the rehearsal; implies terminate. */
  terminateAfterSeconds: optional(seconds()),
  /** The terminate lifecycle event is lost (EventBridge is best effort): only the sweep can find the instance. */
  eventLost: optional(boolean(), false),
  /** A Spot instance. */
  spot: optional(boolean(), false),
  /** EC2 sends the two-minute Spot interruption warning this long after the start; implies spot. */
  interruptAfterSeconds: optional(seconds()),
});

/** How the pods of a workload behave when they get SIGTERM. */
const podBehaviour = {
  /** The pod's own grace period. @default 30 */
  terminationGracePeriodSeconds: optional(seconds()),
  /** Seconds from SIGTERM until the process exits (capped by the grace period). @default 1 */
  shutdownSeconds: optional(seconds()),
  priorityClassName: optional(string()),
  /** The pods carry `tolerations: [{operator: Exists}]`: they tolerate the drain's taint and the cordon. */
  toleratesDrain: optional(boolean()),
};

const deployment = object(
  'a deployment',
  {
    namespace: required(dnsLabel),
    name: required(dnsSubdomain),
    replicas: required(integer({ min: 1, max: 500 })),
    /** All replicas on one node… */
    node: optional(dnsSubdomain),
    /** …or spread round-robin over these. */
    nodes: optional(nodeList),
    labels: optional(labels),
    /** Seconds from scheduling until a replacement is Ready. @default 2 */
    readyAfterSeconds: optional(seconds()),
    /** Each pod has an EBS-backed PersistentVolume (a VolumeAttachment on its node). @default false */
    persistentVolume: optional(boolean(), false),
    ...podBehaviour,
  },
  (d, report) => {
    if ((d.node === undefined) === (d.nodes === undefined)) report(undefined, 'give either "node" or "nodes"');
  },
);

const pdb = object(
  'a PodDisruptionBudget',
  {
    namespace: required(dnsLabel),
    name: required(dnsSubdomain),
    /** matchLabels of the budget's selector. */
    selector: required(labels),
    minAvailable: optional(intOrPercent),
    maxUnavailable: optional(intOrPercent),
  },
  (p, report) => {
    if ((p.minAvailable === undefined) === (p.maxUnavailable === undefined)) report(undefined, 'give either "minAvailable" or "maxUnavailable"');
  },
);

const daemonSet = object('a DaemonSet', {
  namespace: required(dnsLabel),
  name: required(dnsSubdomain),
  nodes: optional(nodeList, 'all'),
  ...podBehaviour,
});

const job = object('a Job (its one pod)', {
  namespace: optional(dnsLabel, 'default'),
  name: required(dnsSubdomain),
  node: required(dnsSubdomain),
  /** Pod annotations, e.g. karpenter.sh/do-not-disrupt: "true" (the drain waits for the pod). */
  annotations: optional(labels),
  /** Seconds until the pod's work is done and it completes by itself. @default it runs until stopped */
  runSeconds: optional(seconds()),
  /** The Job's podReplacementPolicy. @default TerminatingOrFailed (the server's default) */
  podReplacementPolicy: optional(oneOf(['Failed', 'TerminatingOrFailed'] as const)),
  /** @default 6 */
  backoffLimit: optional(integer({ min: 0, max: 100 })),
  ...podBehaviour,
});

const mirrorPod = object('a mirror pod', {
  /** The static pod's name; the mirror pod is named `<name>-<node>`, as the kubelet does. */
  name: required(dnsSubdomain),
  namespace: optional(dnsLabel, 'kube-system'),
  nodes: optional(nodeList, 'all'),
});

const workloads = object('workloads', {
  deployments: optional(list(deployment), []),
  pdbs: optional(list(pdb), []),
  daemonsets: optional(list(daemonSet), []),
  jobs: optional(list(job), []),
  mirrorPods: optional(list(mirrorPod), []),
});

const expectation = object(
  'expect',
  {
    /** The lifecycle action of every terminated instance is completed with this result. */
    result: optional(oneOf(['CONTINUE', 'ABANDON'] as const)),
    /** …for this reason. */
    reason: optional(oneOf(['drained', 'node-not-found', 'deadline-force-deleted', 'deadline-continue', 'deadline-abandon'] as const)),
    /** Each action takes at least / at most this long (virtual minutes). */
    minMinutes: optional(integer({ min: 0 })),
    maxMinutes: optional(integer({ min: 0 })),
  },
  (e, report) => {
    if (e.minMinutes !== undefined && e.maxMinutes !== undefined && e.minMinutes > e.maxMinutes) report('maxMinutes', 'must not be less than minMinutes');
  },
);

const scenarioSchema = object(
  'the scenario',
  {
    name: optional(string()),
    description: optional(string()),
    hook: optional(hook, { heartbeatTimeoutSeconds: 1800 }),
    drain: optional(drain, { maxDrainSeconds: 0, onDeadline: 'force-delete', sweepIntervalMinutes: 5, waitForJobPods: false }),
    nodes: required(list(node, { minItems: 1 })),
    workloads: optional(workloads, { deployments: [], pdbs: [], daemonsets: [], jobs: [], mirrorPods: [] }),
    expect: optional(expectation),
  },
  (s, report) => crossCheck(s, report),
);

type RawScenario = Infer<typeof scenarioSchema>;
export type NodeSpec = Infer<typeof node>;
export type DeploymentSpec = Infer<typeof deployment>;
export type Expectation = Infer<typeof expectation>;

/** A validated scenario: defaults filled in, node references resolved ("all" → names). */
export interface Scenario extends Omit<RawScenario, 'name'> {
  name: string;
  /** Nodes whose instances are terminated, earliest first, each with its offset in seconds. */
  terminations: Array<{ node: string; instanceId: string; afterSeconds: number; eventLost: boolean }>;
  /** Spot instances EC2 interrupts, earliest first, with the offset of the warning in seconds. */
  interruptions: Array<{ node: string; instanceId: string; afterSeconds: number }>;
}

/** The scenario file is unreadable or invalid; `issues` says where and why. */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
  constructor(
    readonly file: string,
    readonly issues: Array<{ where: string; message: string }>,
  ) {
    super(`${file}: ${issues.length === 1 ? 'an error' : `${issues.length} errors`}\n${issues.map((i) => `  ${i.where}: ${i.message}`).join('\n')}`);
  }
}

/** Validates an already parsed document. Throws ScenarioError, locating issues in `doc` when given. */
export function validateScenario(raw: unknown, file = '(scenario)', locate?: (path: Path) => string | undefined): Scenario {
  const issues: Issue[] = [];
  const parsed = scenarioSchema.parse(raw, [], issues);
  if (parsed === INVALID || issues.length > 0) {
    throw new ScenarioError(file, issues.map((i) => ({ where: [locate?.(i.path), formatPath(i.path)].filter(Boolean).join(' '), message: i.message })));
  }
  return resolve(parsed, file);
}

/** Reads and validates a scenario file (YAML). */
export function loadScenario(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ScenarioError(file, [{ where: 'file', message: `cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` }]);
  }
  return parseScenario(text, file);
}

export function parseScenario(text: string, file = '(scenario)'): Scenario {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ScenarioError(
      file,
      doc.errors.map((e) => {
        const { line, col } = lineCounter.linePos(e.pos[0]);
        return { where: `line ${line}:${col}`, message: `not valid YAML: ${e.message.split('\n')[0]}` };
      }),
    );
  }
  return validateScenario(doc.toJS(), file, (path) => lineOf(doc, lineCounter, path));
}

/** `line 12:7` of the deepest node of `path` that exists in the document. */
function lineOf(doc: Document, lineCounter: LineCounter, path: Path): string | undefined {
  for (let n = path.length; n >= 0; n--) {
    const found = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(found) && found.range) {
      const { line, col } = lineCounter.linePos(found.range[0]);
      return `line ${line}:${col}`;
    }
  }
  return undefined;
}

/** Rules across fields: unique names, references to nodes that exist, something to terminate. */
function crossCheck(s: RawScenario, report: (path: Path, message: string) => void): void {
  const names = new Set<string>();
  const ids = new Set<string>();
  s.nodes.forEach((n, i) => {
    if (names.has(n.name)) report(['nodes', i, 'name'], `node ${n.name} is listed twice`);
    if (ids.has(n.instanceId)) report(['nodes', i, 'instanceId'], `instance ${n.instanceId} is listed twice`);
    names.add(n.name);
    ids.add(n.instanceId);
  });
  if (!s.nodes.some((n) => n.terminate || n.terminateAfterSeconds !== undefined || n.interruptAfterSeconds !== undefined)) {
    report(['nodes'], 'no node is terminated: set "terminate: true" (or terminateAfterSeconds, or interruptAfterSeconds) on at least one');
  }
  s.nodes.forEach((n, i) => {
    if (n.eventLost && !(n.terminate || n.terminateAfterSeconds !== undefined)) report(['nodes', i, 'eventLost'], 'only a terminated node has a lifecycle event to lose');
  });
  if (s.nodes.every((n) => n.terminate || n.terminateAfterSeconds !== undefined) && s.workloads.deployments.length > 0) {
    report(['nodes'], 'every node is terminated: add a spare node where evicted Deployment pods can go');
  }
  const known = (name: string, path: Path) => {
    if (!names.has(name)) report(path, `no node named ${name} in "nodes"`);
  };
  const knownList = (nodes: string[] | 'all' | undefined, path: Path) => {
    if (Array.isArray(nodes)) nodes.forEach((n, i) => known(n, [...path, i]));
  };
  const w = s.workloads;
  w.deployments.forEach((d, i) => {
    if (d.node) known(d.node, ['workloads', 'deployments', i, 'node']);
    knownList(d.nodes, ['workloads', 'deployments', i, 'nodes']);
  });
  w.daemonsets.forEach((d, i) => knownList(d.nodes, ['workloads', 'daemonsets', i, 'nodes']));
  w.mirrorPods.forEach((m, i) => knownList(m.nodes, ['workloads', 'mirrorPods', i, 'nodes']));
  w.jobs.forEach((j, i) => known(j.node, ['workloads', 'jobs', i, 'node']));
  const workloadNames = new Set<string>();
  const unique = (kind: string, items: Array<{ namespace: string; name: string }>, section: string) =>
    items.forEach((item, i) => {
      const key = `${kind}/${item.namespace}/${item.name}`;
      if (workloadNames.has(key)) report(['workloads', section, i, 'name'], `${item.namespace}/${item.name} is defined twice`);
      workloadNames.add(key);
    });
  unique('Deployment', w.deployments, 'deployments');
  unique('PodDisruptionBudget', w.pdbs, 'pdbs');
  unique('DaemonSet', w.daemonsets, 'daemonsets');
  unique('Job', w.jobs, 'jobs');
}

function resolve(s: RawScenario, file: string): Scenario {
  const all = s.nodes.map((n) => n.name);
  const nodesOf = (nodes: string[] | 'all') => (nodes === 'all' ? all : nodes);
  const terminations = s.nodes
    .filter((n) => n.terminate || n.terminateAfterSeconds !== undefined)
    .map((n) => ({ node: n.name, instanceId: n.instanceId, afterSeconds: n.terminateAfterSeconds ?? 0, eventLost: n.eventLost }))
    .sort((a, b) => a.afterSeconds - b.afterSeconds);
  const interruptions = s.nodes
    .filter((n) => n.interruptAfterSeconds !== undefined)
    .map((n) => ({ node: n.name, instanceId: n.instanceId, afterSeconds: n.interruptAfterSeconds! }))
    .sort((a, b) => a.afterSeconds - b.afterSeconds);
  return {
    ...s,
    name: s.name ?? basename(file).replace(/\.ya?ml$/, ''),
    workloads: {
      ...s.workloads,
      deployments: s.workloads.deployments.map((d) => ({ ...d, nodes: d.nodes === undefined ? undefined : nodesOf(d.nodes) })),
      daemonsets: s.workloads.daemonsets.map((d) => ({ ...d, nodes: nodesOf(d.nodes) })),
      mirrorPods: s.workloads.mirrorPods.map((m) => ({ ...m, nodes: nodesOf(m.nodes) })),
    },
    terminations,
    interruptions,
  };
}
