/**
 * `eks-graceful-drain audit` run as a process (tsx), with a kubeconfig that
 * points at the fake API server over HTTPS.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FakeKubeServer } from '../../sim/kube/server';
import { seedBatch } from '../../sim/kube/audit-example';
import { parseAllDocuments } from 'yaml';

const ROOT = resolve(__dirname, '../..');

function audit(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'bin/eks-graceful-drain.ts'), ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => res({ code, stdout, stderr }));
  });
}

describe('eks-graceful-drain audit', () => {
  let server: FakeKubeServer;
  let dir: string;
  let kubeconfig: string;

  beforeAll(async () => {
    server = await FakeKubeServer.start();
    seedBatch(server);
    dir = mkdtempSync(join(tmpdir(), 'audit-'));
    kubeconfig = server.writeKubeconfig(dir);
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('--json: reports exactly the non-compliant CronJob problems, each Job under its CronJob, and exits 1', async () => {
    const { code, stdout } = await audit(['audit', '--json', '--kubeconfig', kubeconfig]);
    expect(code).toBe(1);
    const report = JSON.parse(stdout);
    expect(report.server).toEqual({ version: 'v1.31.4-eks-2d5f260', podReplacementPolicySupported: true });
    expect(report.hookTimeoutSeconds).toBe(172_800);
    expect(report.workloads.map((w: any) => [w.kind, `${w.namespace}/${w.name}`, w.jobs, w.passed])).toEqual([
      ['CronJob', 'batch/nightly-report', ['nightly-report-29374080'], true],
      ['CronJob', 'shop/cleanup', ['cleanup-29374095'], false],
    ]);
    expect(report.workloads[1].findings.map((f: any) => f.rule)).toEqual([
      'restart-policy-never', 'no-retry-after-failure', 'concurrency-forbid', 'replace-when-stopped', 'grace-within-spot-notice',
    ]);
    for (const f of report.workloads[1].findings) {
      expect(f.why.length).toBeGreaterThan(40);
      expect(f.fix).toMatch(/^spec:\n/);
    }
    expect(report.failed).toBe(1);
    // Read-only: discovery of the version and two LISTs, nothing else.
    expect(Object.keys(server.countByVerb()).sort()).toEqual(['get', 'list']);
  });

  it('prints a table, why each finding matters and the YAML that fixes it', async () => {
    const { code, stdout } = await audit(['audit', '--kubeconfig', kubeconfig, '--namespace', 'shop']);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^CronJob shop\/cleanup\s+1\s+FAIL\s+FAIL\s+FAIL\s+FAIL\s+FAIL \(Spot, 2 min\)$/m);
    expect(stdout).toContain('✗ concurrency-forbid: concurrencyPolicy is Allow, not Forbid');
    expect(stdout).toContain('      spec:\n        concurrencyPolicy: Forbid');
    expect(stdout).not.toContain('nightly-report');
    expect(stdout).toContain('1 of 1 failed.');
  });

  it('exits 0 when every rule passes, and honours --hook-timeout', async () => {
    const passing = await audit(['audit', '--kubeconfig', kubeconfig, '-n', 'batch']);
    expect(passing.code).toBe(0);
    expect(passing.stdout).toContain('All 1 passed.');
    const shortHook = await audit(['audit', '--kubeconfig', kubeconfig, '-n', 'batch', '--hook-timeout', '1800', '--json']);
    expect(shortHook.code).toBe(1);
    expect(JSON.parse(shortHook.stdout).workloads[0].findings.map((f: any) => f.rule)).toEqual(['grace-within-hook']);
  });

  it('skips podReplacementPolicy on a server older than 1.29', async () => {
    const old = await FakeKubeServer.start({ version: { major: '1', minor: '28', gitVersion: 'v1.28.15-eks-1a2b3c4' } });
    try {
      seedBatch(old);
      const { code, stdout } = await audit(['audit', '--json', '--kubeconfig', old.writeKubeconfig(join(dir, 'old'))]);
      expect(code).toBe(1);
      const report = JSON.parse(stdout);
      expect(report.server.podReplacementPolicySupported).toBe(false);
      expect(report.workloads[1].findings.map((f: any) => f.rule)).not.toContain('replace-when-stopped');
    } finally {
      await old.stop();
    }
  });

  it('passes the example CronJob of examples/job-guard/cronjob.yaml', async () => {
    const example = await FakeKubeServer.start();
    try {
      const docs = parseAllDocuments(readFileSync(join(ROOT, 'examples/job-guard/cronjob.yaml'), 'utf8')).map((d) => d.toJS());
      const cron = docs.find((d) => d.kind === 'CronJob');
      const job = cron.spec.jobTemplate.spec;
      example.addCronJob({
        namespace: cron.metadata.namespace, name: cron.metadata.name, schedule: cron.spec.schedule, concurrencyPolicy: cron.spec.concurrencyPolicy,
        jobTemplate: { backoffLimit: job.backoffLimit, podReplacementPolicy: job.podReplacementPolicy, podFailurePolicy: job.podFailurePolicy, template: job.template },
      });
      const { code, stdout } = await audit(['audit', '--json', '--kubeconfig', example.writeKubeconfig(join(dir, 'example'))]);
      expect(JSON.parse(stdout).workloads.map((w: any) => [w.name, w.findings])).toEqual([['nightly-report', []]]);
      expect(code).toBe(0);
    } finally {
      await example.stop();
    }
  });

  it('exits 2 on bad arguments and when the cluster cannot be read', async () => {
    expect((await audit(['audit', '--hook-timeout', 'two days'])).code).toBe(2);
    expect((await audit(['nonsense'])).code).toBe(2);
    const unreachable = await audit(['audit', '--kubeconfig', join(dir, 'missing')]);
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).toMatch(/cannot read the cluster/);
    const help = await audit(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: eks-graceful-drain audit');
  });
});
