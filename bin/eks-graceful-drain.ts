#!/usr/bin/env node
/**
 * The operator's command line: `npx eks-graceful-drain audit`.
 * Reads the cluster through the kubeconfig (read-only) and reports, for every
 * CronJob and Job, the rules of lambda/core/job-rules.ts. Exit status: 0 every
 * rule passes, 1 a rule fails (so it can gate CI), 2 bad arguments or the
 * cluster could not be read.
 */
import { parseArgs } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { MAX_GLOBAL_TIMEOUT_SECONDS } from '../lambda/core/deadline';
import { auditWorkload, type BatchWorkloadView, type Finding } from '../lambda/core/job-rules';
import { readClusterJobs, type ClusterJobs } from '../lambda/adapters/kube-jobs';
import { LifecycleHooks, createAutoScalingClient } from '../lambda/adapters/lifecycle';

const USAGE = `Usage: eks-graceful-drain audit [options]

Checks every CronJob and Job of the cluster against what a batch workload needs
to survive a node drain: restartPolicy Never; backoffLimit 0 or a podFailurePolicy
for disruptions (DisruptionTarget); concurrencyPolicy Forbid (CronJobs);
podReplacementPolicy Failed (servers 1.29+); a terminationGracePeriodSeconds the
lifecycle hook can hold (2 minutes on Spot). Read-only. Exit status: 0 all pass,
1 a rule fails, 2 bad arguments or the cluster could not be read.

Options:
  --kubeconfig PATH          kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)
  --context NAME             kubeconfig context (default: the current one)
  -n, --namespace NAME       only this namespace (default: all)
  --hook-timeout SECONDS     how long the drain's lifecycle hook holds a node
                             (default 172800 = 48 h, the most a hook allows)
  --auto-scaling-group NAME  read that from the deployed hook instead (AWS credentials)
  --hook-name NAME           the hook on that group (default eks-graceful-drain)
  --json                     machine-readable output
  -h, --help                 this text
`;

interface AuditReport {
  server: { version: string; podReplacementPolicySupported: boolean };
  hookTimeoutSeconds: number;
  workloads: Array<{ kind: string; namespace: string; name: string; jobs?: string[]; passed: boolean; findings: Finding[] }>;
  failed: number;
}

export async function main(argv: string[], out = process.stdout, err = process.stderr): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '-h' || command === '--help' || command === undefined) {
    (command === undefined ? err : out).write(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command !== 'audit') {
    err.write(`eks-graceful-drain: unknown command "${command}" (try --help)\n`);
    return 2;
  }
  let options;
  try {
    ({ values: options } = parseArgs({
      args: rest,
      options: {
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        namespace: { type: 'string', short: 'n' },
        'hook-timeout': { type: 'string' },
        'auto-scaling-group': { type: 'string' },
        'hook-name': { type: 'string', default: 'eks-graceful-drain' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    err.write(`eks-graceful-drain audit: ${(e as Error).message} (try --help)\n`);
    return 2;
  }
  if (options.help) {
    out.write(USAGE);
    return 0;
  }

  let hookTimeoutSeconds = MAX_GLOBAL_TIMEOUT_SECONDS;
  if (options['hook-timeout'] !== undefined) {
    hookTimeoutSeconds = Number(options['hook-timeout']);
    if (!Number.isInteger(hookTimeoutSeconds) || hookTimeoutSeconds < 30 || hookTimeoutSeconds > MAX_GLOBAL_TIMEOUT_SECONDS) {
      err.write(`eks-graceful-drain audit: --hook-timeout must be whole seconds from 30 to ${MAX_GLOBAL_TIMEOUT_SECONDS}, not "${options['hook-timeout']}"\n`);
      return 2;
    }
  } else if (options['auto-scaling-group']) {
    try {
      const hook = await new LifecycleHooks(createAutoScalingClient()).describeHook(options['auto-scaling-group'], options['hook-name']!);
      hookTimeoutSeconds = hook.globalTimeoutSeconds;
    } catch (e) {
      err.write(`eks-graceful-drain audit: cannot read the lifecycle hook: ${(e as Error).message}\n`);
      return 2;
    }
  }

  const config = new k8s.KubeConfig();
  let cluster: ClusterJobs;
  try {
    if (options.kubeconfig) config.loadFromFile(options.kubeconfig);
    else config.loadFromDefault();
    if (options.context) config.setCurrentContext(options.context);
    if (!config.getCurrentCluster()) throw new Error(`no cluster for context "${config.getCurrentContext()}"`);
    cluster = await readClusterJobs(config, options.namespace);
  } catch (e) {
    err.write(`eks-graceful-drain audit: cannot read the cluster: ${describe(e)}\n`);
    return 2;
  }

  const settings = { podReplacementPolicySupported: cluster.podReplacementPolicySupported, hookTimeoutSeconds };
  const report: AuditReport = {
    server: { version: cluster.version.gitVersion, podReplacementPolicySupported: cluster.podReplacementPolicySupported },
    hookTimeoutSeconds,
    workloads: cluster.workloads.map((w) => {
      const findings = auditWorkload(w, settings);
      return { kind: w.kind, namespace: w.namespace, name: w.name, ...(w.jobs ? { jobs: w.jobs } : {}), passed: findings.length === 0, findings };
    }),
    failed: 0,
  };
  report.failed = report.workloads.filter((w) => !w.passed).length;
  out.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : humanReport(report, cluster.workloads));
  return report.failed > 0 ? 1 : 0;
}

function humanReport(report: AuditReport, views: BatchWorkloadView[]): string {
  const lines: string[] = [];
  const supported = report.server.podReplacementPolicySupported ? 'supported' : 'not supported: rule skipped';
  lines.push(`Kubernetes ${report.server.version} (podReplacementPolicy ${supported}); the hook holds a node up to ${duration(report.hookTimeoutSeconds)}.`);
  if (report.workloads.length === 0) {
    lines.push('No CronJobs or Jobs found.');
    return `${lines.join('\n')}\n`;
  }
  // One column per requirement; the two grace rules share one (a pod is on Spot or not).
  const columns: Array<{ title: string; rules: string[] }> = [
    { title: 'RESTART', rules: ['restart-policy-never'] },
    { title: 'RETRIES', rules: ['no-retry-after-failure'] },
    { title: 'CONCURRENCY', rules: ['concurrency-forbid'] },
    { title: 'REPLACEMENT', rules: ['replace-when-stopped'] },
    { title: 'GRACE', rules: ['grace-within-hook', 'grace-within-spot-notice'] },
  ];
  const rows = [['WORKLOAD', 'RUNS', ...columns.map((c) => c.title)]];
  report.workloads.forEach((w, i) => {
    const view = views[i];
    const failed = new Set<string>(w.findings.map((f) => f.rule));
    const cell = (c: (typeof columns)[number]) => {
      if (c.title === 'CONCURRENCY' && w.kind === 'Job') return '-';
      if (c.title === 'REPLACEMENT' && !report.server.podReplacementPolicySupported) return 'n/a';
      const verdict = c.rules.some((r) => failed.has(r)) ? 'FAIL' : 'ok';
      return c.title === 'GRACE' ? `${verdict} (${view.spot ? 'Spot, 2 min' : duration(report.hookTimeoutSeconds)})` : verdict;
    };
    rows.push([`${w.kind} ${w.namespace}/${w.name}`, w.kind === 'CronJob' ? String(w.jobs?.length ?? 0) : '-', ...columns.map(cell)]);
  });
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  lines.push('', ...rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()));
  for (const w of report.workloads.filter((x) => !x.passed)) {
    lines.push('', `${w.kind} ${w.namespace}/${w.name}${w.jobs?.length ? ` (runs: ${w.jobs.join(', ')})` : ''}`);
    for (const f of w.findings) {
      lines.push(`  ✗ ${f.rule}: ${f.message}`, ...wrap(f.why, 76).map((l) => `    ${l}`), '    fix:', ...f.fix.split('\n').map((l) => `      ${l}`));
    }
  }
  lines.push('', report.failed === 0 ? `All ${report.workloads.length} passed.` : `${report.failed} of ${report.workloads.length} failed.`);
  return `${lines.join('\n')}\n`;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

const duration = (s: number) => (s % 3600 === 0 ? `${s / 3600} h` : `${Math.round(s / 60)} min`);

function describe(e: unknown): string {
  if (e instanceof k8s.ApiException) return `HTTP ${e.code}: ${typeof e.body === 'string' ? e.body.slice(0, 300) : ''}`;
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return `${(e as Error).message}${cause ? ` (${cause.code ?? cause.message})` : ''}`;
}

// Run when executed: through tsx (CommonJS), or as the package's ESM bundle
// (scripts/build.ts defines EKS_GRACEFUL_DRAIN_CLI_BUNDLE, where `module` does not exist).
if (process.env.EKS_GRACEFUL_DRAIN_CLI_BUNDLE === 'true' || (typeof module !== 'undefined' && require.main === module)) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e) => {
      process.stderr.write(`eks-graceful-drain: ${describe(e)}\n`);
      process.exitCode = 2;
    },
  );
}
