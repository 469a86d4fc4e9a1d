/**
 * job-guard.sh with real processes and real signals, under dash (/bin/sh),
 * bash and, where installed, busybox ash; the lock against the fake API
 * server over HTTPS (its openssl-generated CA handed to curl).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FakeKubeServer } from '../../sim/kube/server';
import { VirtualClock } from '../../sim/virtual-clock';

const GUARD = resolve(__dirname, '../../job-guard/job-guard.sh');

const hasBusybox = (() => {
  try {
    execFileSync('busybox', ['sh', '-c', 'true']);
    return true;
  } catch {
    return false;
  }
})();
const shells: Array<[string, string[]]> = [['dash', ['sh']], ['bash', ['bash']], ...(hasBusybox ? [['busybox ash', ['busybox', 'sh']] as [string, string[]]] : [])];

interface Run {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(shell: string[], args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const child = spawn(shell[0], [...shell.slice(1), GUARD, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('close', (code, signal) => res({ code, signal })));
  return { child, out: () => out, err: () => err, done };
}

/** Waits for output or files written by real processes: I/O, never domain time. */
async function until(condition: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A job that says "started", traps `signal` (exit `code`), and otherwise waits (its sleeps detached from our pipes). */
const trappingJob = (signal: string, code: number) => [
  'sh', '-c', `trap 'echo got ${signal}; exit ${code}' ${signal}; echo started; while :; do sleep 1 >/dev/null 2>&1 & wait $!; done`,
];

describe.each(shells)('job-guard under %s', (_name, shell) => {
  it.each([['TERM', 7], ['QUIT', 8], ['INT', 9]] as const)('forwards SIG%s to the job, waits for it and exits with its code', async (signal, code) => {
    // Arrange
    const guard = run(shell, ['--', ...trappingJob(signal, code)]);
    await until(() => guard.out().includes('started'), 'the job to start');
    // Act
    guard.child.kill(`SIG${signal}`);
    // Assert
    expect(await guard.done).toEqual({ code, signal: null });
    expect(guard.out()).toContain(`got ${signal}`);
  });

  it('exits with the job own code, and 128+n when the job dies of signal n', async () => {
    expect(await run(shell, ['--', 'sh', '-c', 'exit 3']).done).toEqual({ code: 3, signal: null });
    expect(await run(shell, ['sh', '-c', 'exit 0']).done).toEqual({ code: 0, signal: null });
    const untrapped = run(shell, ['--', 'sh', '-c', 'echo started; exec sleep 30']);
    await until(() => untrapped.out().includes('started'), 'the job to start');
    untrapped.child.kill('SIGTERM');
    expect(await untrapped.done).toEqual({ code: 143, signal: null });
    expect(await run(shell, ['--', 'sh', '-c', 'kill -KILL $$']).done).toEqual({ code: 137, signal: null });
  });

  it('re-waits after a trapped signal: a job that takes its time to stop is waited for', async () => {
    const guard = run(shell, ['--', 'sh', '-c', `trap 'echo stopping; sleep 0.3; echo stopped; exit 5' TERM; echo started; while :; do sleep 1 >/dev/null 2>&1 & wait $!; done`]);
    await until(() => guard.out().includes('started'), 'the job to start');
    guard.child.kill('SIGTERM');
    await until(() => guard.out().includes('stopping'), 'the job to start stopping');
    guard.child.kill('SIGTERM'); // a second signal while the job shuts down
    expect(await guard.done).toEqual({ code: 5, signal: null });
    expect(guard.out()).toContain('stopped');
  });

  it('loses no signal that arrives while it starts: the job is never left running', async () => {
    // A lost SIGTERM would let the 5-second job run to the end and exit 0.
    for (let i = 0; i < 24; i++) {
      const guard = run(shell, ['--', 'sh', '-c', 'exec sleep 5']);
      await new Promise((r) => setTimeout(r, i % 8));
      guard.child.kill('SIGTERM');
      const { code, signal } = await guard.done;
      // Either the guard was killed before its first line (the kernel's default
      // action: the pod stops all the same) or it forwarded the signal.
      expect({ i, outcome: signal === 'SIGTERM' || code === 143 ? 'stopped' : { code, signal, err: guard.err() } }).toEqual({ i, outcome: 'stopped' });
    }
  });

  it('refuses bad usage with 64 and a message', async () => {
    const none = run(shell, []);
    expect((await none.done).code).toBe(64);
    expect(none.err()).toMatch(/no command given/);
    const bad = run(shell, ['--lease-seconds', 'soon', '--', 'true']);
    expect((await bad.done).code).toBe(64);
  });
});

describe('job-guard --lock against the fake API server', () => {
  let server: FakeKubeServer;
  let dir: string;
  let saDir: string;

  const lockEnv = (holder: string, extra: NodeJS.ProcessEnv = {}) => ({
    JOB_GUARD_API: server.url,
    JOB_GUARD_SA_DIR: saDir,
    JOB_GUARD_HOLDER: holder,
    ...extra,
  });
  const lease = () => server.leases.get('batch', 'nightly-report');
  const iso = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z');
  const seedLease = (holder: string, renewedAgoSeconds: number, duration = 60) =>
    server.leases.create('batch', {
      metadata: { name: 'nightly-report' },
      spec: { holderIdentity: holder, leaseDurationSeconds: duration, acquireTime: iso(Date.now() - 3_600_000), renewTime: iso(Date.now() - renewedAgoSeconds * 1000), leaseTransitions: 2 },
    });

  async function start(clock?: VirtualClock, latencyMs = 0) {
    server = await FakeKubeServer.start({ ...(clock ? { clock } : {}), latencyMs });
    dir = mkdtempSync(join(tmpdir(), 'job-guard-'));
    saDir = join(dir, 'sa');
    execFileSync('mkdir', ['-p', saDir]);
    writeFileSync(join(saDir, 'token'), server.token);
    writeFileSync(join(saDir, 'ca.crt'), server.caPem);
    writeFileSync(join(saDir, 'namespace'), 'batch');
  }

  afterEach(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the Lease, runs the job and releases it on a normal exit', async () => {
    await start();
    const guard = run(['sh'], ['--lock', 'nightly-report', '--', 'sh', '-c', 'echo working'], lockEnv('nightly-report-29xkq'));
    expect(await guard.done).toEqual({ code: 0, signal: null });
    expect(guard.out()).toContain('working');
    expect(guard.err()).toMatch(/lock batch\/nightly-report taken by nightly-report-29xkq for 60s/);
    const released = lease();
    expect(released.spec.holderIdentity).toBeUndefined();
    expect(released.spec.leaseDurationSeconds).toBe(60);
    // Create, then release (GET + PUT): the token went in the Authorization header.
    expect(server.countRequests({ method: 'POST', status: 201 })).toBe(1);
    expect(server.countRequests({ method: 'PUT', status: 200 })).toBe(1);
  });

  it('a second copy exits 75 with a clear message while the holder renews, and never starts its job', async () => {
    await start();
    seedLease('nightly-report-first', 5);
    const marker = join(dir, 'ran');
    const guard = run(['sh'], ['--lock', 'nightly-report', '--', 'touch', marker], lockEnv('nightly-report-second'));
    expect((await guard.done).code).toBe(75);
    expect(guard.err()).toMatch(/lock batch\/nightly-report is held by nightly-report-first .*valid for 60s.*not starting/);
    expect(existsSync(marker)).toBe(false);
    expect(lease().spec.holderIdentity).toBe('nightly-report-first');
  });

  it('takes over a lease that expired (its holder died without releasing it)', async () => {
    await start();
    seedLease('nightly-report-oomkilled', 61);
    const guard = run(['sh'], ['--lock', 'nightly-report', '--', 'sh', '-c', 'echo working'], lockEnv('nightly-report-next'));
    expect(await guard.done).toEqual({ code: 0, signal: null });
    expect(guard.err()).toMatch(/the lease of nightly-report-oomkilled expired \d+s ago; taking it over/);
    expect(lease().spec.leaseTransitions).toBe(3);
  });

  it('keeps the lease when the job is killed by a signal nobody forwarded (OOM kill), so the next run waits for expiry', async () => {
    await start();
    const guard = run(['sh'], ['--lock', 'nightly-report', '--lease-seconds', '120', '--', 'sh', '-c', 'kill -KILL $$'], lockEnv('nightly-report-a'));
    expect((await guard.done).code).toBe(137);
    expect(guard.err()).toMatch(/killed by signal 9: keeping lock batch\/nightly-report until it expires \(120s\)/);
    expect(lease().spec).toMatchObject({ holderIdentity: 'nightly-report-a', leaseDurationSeconds: 120 });
    const next = run(['sh'], ['--lock', 'nightly-report', '--', 'true'], lockEnv('nightly-report-b'));
    expect((await next.done).code).toBe(75);
  });

  it('releases the lease when the job stops on a forwarded SIGTERM (an eviction)', async () => {
    await start();
    const guard = run(['sh'], ['--lock', 'nightly-report', '--', ...trappingJob('TERM', 0)], lockEnv('nightly-report-a'));
    await until(() => guard.out().includes('started'), 'the job to start');
    guard.child.kill('SIGTERM');
    expect((await guard.done).code).toBe(0);
    expect(lease().spec.holderIdentity).toBeUndefined();
  });

  it('renews the lease while the job runs', async () => {
    await start();
    const flag = join(dir, 'finish');
    const guard = run(['sh'], ['--lock', 'nightly-report', '--', 'sh', '-c', `while [ ! -e ${flag} ]; do sleep 0.1; done`], lockEnv('nightly-report-a', { JOB_GUARD_RENEW_SECONDS: '1' }));
    await until(() => server.countRequests({ method: 'PUT', status: 200 }) >= 2, 'two renewals', 15_000);
    const renewed = lease();
    expect(renewed.spec.holderIdentity).toBe('nightly-report-a');
    expect(Date.parse(renewed.spec.renewTime)).toBeGreaterThan(Date.parse(renewed.spec.acquireTime));
    writeFileSync(flag, '');
    expect((await guard.done).code).toBe(0);
  });

  it('two guards racing for one expired lease: one update wins, the other gets 409, reads again and exits 75', async () => {
    // Every request waits 1 s of virtual time, so both GETs, then both PUTs, are in flight together.
    const clock = new VirtualClock(Date.now());
    await start(clock, 1000);
    seedLease('nightly-report-dead', 3600);
    const flag = join(dir, 'finish');
    const job = ['sh', '-c', `echo started; while [ ! -e ${flag} ]; do sleep 0.1; done`];
    const a = run(['sh'], ['--lock', 'nightly-report', '--', ...job], lockEnv('pod-a'));
    const b = run(['sh'], ['--lock', 'nightly-report', '--', ...job], lockEnv('pod-b'));
    const inFlight = (n: number) => until(() => clock.pendingTimers() >= n, `${n} requests in flight`);
    await inFlight(2); // both GETs
    await clock.advanceBy(1000);
    await inFlight(2); // both PUTs with the same resourceVersion
    await clock.advanceBy(1000);
    await inFlight(1); // the loser reads again
    await clock.advanceBy(1000);
    const loser = await Promise.race([a.done.then(() => a), b.done.then(() => b)]);
    const winner = loser === a ? b : a;
    expect((await loser.done).code).toBe(75);
    expect(loser.err()).toMatch(/is held by pod-[ab]/);
    expect(server.countRequests({ method: 'PUT', status: 409 })).toBe(1);
    expect(lease().spec.holderIdentity).toBe(winner === a ? 'pod-a' : 'pod-b');
    await until(() => winner.out().includes('started'), 'the winner job');
    writeFileSync(flag, '');
    // Release: GET + PUT, each 1 s of virtual time.
    for (let i = 0; i < 2; i++) {
      await inFlight(1);
      await clock.advanceBy(1000);
    }
    expect((await winner.done).code).toBe(0);
  });

  it('a SIGTERM while it takes the lock: the job is not started, the lease released, exit 143', async () => {
    const clock = new VirtualClock(Date.now());
    await start(clock, 1000);
    const marker = join(dir, 'ran');
    const guard = run(['sh'], ['--lock', 'nightly-report', '--', 'touch', marker], lockEnv('pod-a'));
    await until(() => clock.pendingTimers() >= 1, 'the GET of the lease in flight');
    guard.child.kill('SIGTERM'); // arrives while curl waits for the API server
    await clock.advanceBy(1000); // GET: 404
    for (let i = 0; i < 3; i++) {
      // POST (create), then the release's GET and PUT
      await until(() => clock.pendingTimers() >= 1, 'the next request');
      await clock.advanceBy(1000);
    }
    expect((await guard.done).code).toBe(143);
    expect(guard.err()).toMatch(/SIGTERM before the job started: not starting it/);
    expect(existsSync(marker)).toBe(false);
    expect(lease().spec.holderIdentity).toBeUndefined();
  });

  it('fails clearly (69) when the API server cannot be reached', async () => {
    await start();
    const guard = run(['sh'], ['--lock', 'nightly-report', '--', 'true'], lockEnv('pod-a', { JOB_GUARD_API: 'https://127.0.0.1:1' }));
    expect((await guard.done).code).toBe(69);
    expect(guard.err()).toMatch(/cannot read Lease batch\/nightly-report: no answer from https:\/\/127.0.0.1:1/);
  });
});
