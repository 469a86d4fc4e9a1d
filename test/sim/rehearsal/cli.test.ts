/**
 * The CLI in process (exit status, output) and once as a real process, to
 * check that `npm run simulate` exits with the status it means.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, type Io } from '../../../sim/rehearsal/cli';

const ROOT = join(__dirname, '../../..');

function capture(): Io & { stdout: string[]; stderr: string } {
  const io = { stdout: [] as string[], stderr: '', isTTY: false, out: (l: string) => void io.stdout.push(l), err: (t: string) => void (io.stderr += t) };
  return io;
}

describe('npm run simulate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rehearsal-cli-'));

  test('a bad scenario exits with 2 and says which field is wrong, where', async () => {
    // Arrange
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'nodes:\n  - { name: a, instanceId: i-0aaaaaaaaaaaaaaa1, terminate: true }\nworkloads:\n  deployment: []\n');
    const io = capture();

    // Act
    const status = await main(['--scenario', file], io);

    // Assert
    expect(status).toBe(2);
    expect(io.stderr).toContain(`simulate: invalid scenario ${file}: an error`);
    expect(io.stderr).toMatch(/line 4:15 workloads\.deployment: unknown key "deployment" in workloads \(did you mean "deployments"\?\)/);
    expect(io.stdout).toEqual([]);
  });

  test.each([
    [['--frobnicate'], /unknown argument --frobnicate/],
    [['--scenario'], /--scenario needs a value/],
    [['--timeline', 'some'], /--timeline must be full, milestones or none/],
  ])('bad arguments %j exit with 2 and the usage', async (argv, message) => {
    // Arrange
    const io = capture();

    // Act
    const status = await main(argv, io);

    // Assert
    expect(status).toBe(2);
    expect(io.stderr).toMatch(message);
    expect(io.stderr).toContain('Usage: npm run simulate');
  });

  test('a rehearsal whose expectations fail exits with 1 and lists the problems', async () => {
    // Arrange: the default drain cannot be over in 5 minutes.
    const file = join(dir, 'impatient.yaml');
    writeFileSync(file, `
nodes:
  - { name: ip-10-0-0-1.ec2.internal, instanceId: i-0aaaaaaaaaaaaaaa1, terminate: true }
  - { name: ip-10-0-0-2.ec2.internal, instanceId: i-0aaaaaaaaaaaaaaa2 }
workloads:
  jobs:
    - { name: report, node: ip-10-0-0-1.ec2.internal, terminationGracePeriodSeconds: 900, shutdownSeconds: 600 }
expect: { maxMinutes: 5 }
`);
    const io = capture();

    // Act
    const status = await main(['--scenario', file, '--quiet'], io);

    // Assert
    expect(status).toBe(1);
    expect(io.stdout).toContain('Result: FAILED — 1 problem:');
    expect(io.stdout.join('\n')).toMatch(/- i-0aaaaaaaaaaaaaaa1 \(ip-10-0-0-1\.ec2\.internal\): completed after 1\dm\d\ds, expected at most 5 min/);
    expect(io.stderr).toContain('the rehearsal of impatient failed');
  });

  test('the default run prints a timeline with virtual timestamps, the summary and PASSED', async () => {
    // Arrange
    const io = capture();

    // Act
    const status = await main(['--progress-every', '10'], io);

    // Assert
    expect(status).toBe(0);
    const out = io.stdout.join('\n');
    expect(out).toMatch(/^\+00:00:00 {2}cordoned ip-10-0-1-10\.ec2\.internal$/m);
    expect(out).toMatch(/^\+00:00:0\d {2}evicted shop\/web-/m);
    expect(out).toMatch(/^\+00:24:00 {2}heartbeat 1/m);
    expect(out).toMatch(/^\+00:40:00 {2}pod batch\/nightly-report-\w+ finished \(40 min after SIGTERM\)$/m);
    expect(out).toMatch(/^\+00:4\d:\d\d {2}lifecycle action completed with CONTINUE after 4\dm\d\ds \(drained\)$/m);
    for (const label of ['drain time', 'evictions', 'PDB blocks', 'heartbeats', 'Kubernetes API', 'Step Functions', 'Lambda', 'estimated cost']) {
      expect(out).toMatch(new RegExp(`^ {2}${label} +\\S`, 'm'));
    }
    expect(out).toMatch(/Result: PASSED — 1 lifecycle action completed with CONTINUE \(drained\)/);
    // Without a terminal: a progress line every 10 virtual minutes.
    expect(io.stderr.split('\n').filter((l) => l.startsWith('… +00:')).length).toBeGreaterThanOrEqual(4);
  });

  test('as a process: a missing scenario file exits with 2', async () => {
    // Act
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile('npx', ['tsx', 'bin/simulate.ts', '--scenario', join(dir, 'missing.yaml')], { cwd: ROOT }, (err, _stdout, stderr) =>
        resolve({ code: err ? (err as NodeJS.ErrnoException & { code: number }).code : 0, stderr }),
      );
    });

    // Assert
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/simulate: invalid scenario .*missing\.yaml: an error\n {2}file: cannot read it \(ENOENT\)/);
  });
});
