/**
 * `npm run simulate [-- --scenario examples/<name>.yaml] [--report drain.html]`:
 * rehearses a scenario and prints its timeline and summary.
 *
 * Exit status: 0 when every lifecycle action was completed by the drain (and
 * the scenario's expectations hold), 1 when the rehearsal failed (an
 * execution FAILED, an action timed out…), 2 for a bad scenario or bad
 * arguments.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { renderReport } from './report-html';
import { rehearse, type Progress, type RehearsalResult } from './rehearse';
import { loadScenario, ScenarioError, type Scenario } from './scenario-file';
import { formatSummary } from './summary';
import { clockLabel, durationLabel, formatTimeline, shortNode, type TimelineDetail } from './timeline';

export const DEFAULT_SCENARIO = resolve(__dirname, '../../examples/default.yaml');

export const USAGE = `Usage: npm run simulate -- [options]

Rehearses a drain: the synthesized state machine and the real Lambda handlers
run against a simulated cluster and Auto Scaling group, on virtual time.

Options:
  --scenario <file>    scenario file (YAML); default: examples/default.yaml
  --report <file>      also write a self-contained HTML report with a timeline chart
  --timeline <detail>  full, milestones or none; default: full for up to 3 drained nodes
  --progress-every <minutes>
                       without a terminal, a progress line every this many virtual minutes (default 10)
  --quiet              no progress on stderr
  --help               this text

Exit status: 0 rehearsal passed, 1 rehearsal failed, 2 bad scenario or arguments.`;

export interface Io {
  /** One line of the result (stdout). */
  out(line: string): void;
  /** Diagnostics and progress (stderr), written as given. */
  err(text: string): void;
  /** stderr is a terminal: progress is a spinner line rewritten in place. */
  isTTY: boolean;
}

export const processIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (text) => process.stderr.write(text),
  isTTY: Boolean(process.stderr.isTTY),
};

interface Args {
  scenario: string;
  report?: string;
  timeline?: TimelineDetail | 'none';
  progressEveryMinutes: number;
  quiet: boolean;
  help: boolean;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseArgs(argv: string[]): Args {
  const args: Args = { scenario: DEFAULT_SCENARIO, progressEveryMinutes: 10, quiet: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].startsWith('--') && argv[i].includes('=') ? [argv[i].slice(0, argv[i].indexOf('=')), argv[i].slice(argv[i].indexOf('=') + 1)] : [argv[i], undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--scenario':
        args.scenario = value();
        break;
      case '--report':
        args.report = value();
        break;
      case '--timeline': {
        const v = value();
        if (v !== 'full' && v !== 'milestones' && v !== 'none') throw new UsageError(`--timeline must be full, milestones or none (got ${v})`);
        args.timeline = v;
        break;
      }
      case '--progress-every': {
        const v = Number(value());
        if (!Number.isFinite(v) || v <= 0) throw new UsageError('--progress-every needs a positive number of minutes');
        args.progressEveryMinutes = v;
        break;
      }
      case '--quiet':
        args.quiet = true;
        break;
      case '--help':
      case '-h':
        args.help = true;
        break;
      default:
        throw new UsageError(`unknown argument ${argv[i]}`);
    }
  }
  return args;
}

/** Runs the CLI; returns the exit status instead of exiting (tests call it in process). */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    io.err(`simulate: ${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    io.out(USAGE);
    return 0;
  }
  let scenario: Scenario;
  try {
    scenario = loadScenario(args.scenario);
  } catch (err) {
    if (!(err instanceof ScenarioError)) throw err;
    io.err(`simulate: invalid scenario ${err.message}\n`);
    return 2;
  }

  printHeader(scenario, io);
  const progress = args.quiet ? undefined : progressPrinter(io, args.progressEveryMinutes);
  let result: RehearsalResult;
  try {
    result = await rehearse(scenario, { onProgress: progress?.update });
  } catch (err) {
    progress?.done();
    io.err(`simulate: the rehearsal could not run: ${(err as Error).name}: ${(err as Error).message}\n`);
    return 1;
  }
  progress?.done();

  const detail = args.timeline ?? (scenario.terminations.length > 3 ? 'milestones' : 'full');
  if (detail !== 'none') {
    io.out('');
    io.out(`Timeline (virtual time${detail === 'milestones' ? ', milestones only: --timeline full for every pod' : ''})`);
    for (const line of formatTimeline(result.timeline, detail)) io.out(line);
  }
  io.out('');
  io.out('Summary');
  for (const line of formatSummary(result.summary)) io.out(line);
  io.out('');
  if (args.report) {
    const file = resolve(args.report);
    writeFileSync(file, renderReport(result));
    io.out(`Report: ${file}`);
  }
  if (result.failures.length === 0) {
    io.out(`Result: PASSED — ${verdict(result)}`);
    return 0;
  }
  io.out(`Result: FAILED — ${result.failures.length} problem${result.failures.length === 1 ? '' : 's'}:`);
  for (const failure of result.failures) io.out(`  - ${failure}`);
  io.err(`simulate: the rehearsal of ${scenario.name} failed (${result.failures.length} problem${result.failures.length === 1 ? '' : 's'}, listed above)\n`);
  return 1;
}

function printHeader(s: Scenario, io: Io): void {
  const nodes = [...new Set([...s.terminations, ...s.interruptions].map((t) => shortNode(t.node)))];
  const limit = s.drain.maxDrainSeconds > 0 ? `max drain ${durationLabel(s.drain.maxDrainSeconds * 1000)}` : 'max drain: as long as the hook allows';
  io.out(`Rehearsal: ${s.name}${s.description ? ` — ${s.description.trim().split('\n')[0]}` : ''}`);
  io.out(
    `  ${nodes.length} node${nodes.length === 1 ? '' : 's'} terminated (${nodes.length > 3 ? `${nodes.slice(0, 3).join(', ')}…` : nodes.join(', ')}), ` +
      `heartbeat timeout ${s.hook.heartbeatTimeoutSeconds} s, ${limit}, on deadline: ${s.drain.onDeadline}`,
  );
}

/** One sentence on how it went, for the last line. */
function verdict(r: RehearsalResult): string {
  const byResult = new Map<string, number>();
  for (const a of r.actions) {
    const key = `${a.result} (${a.reason ?? 'unknown'})`;
    byResult.set(key, (byResult.get(key) ?? 0) + 1);
  }
  const results = [...byResult].map(([k, n]) => (r.actions.length > 1 ? `${n} × ${k}` : k)).join(', ');
  const n = r.actions.length;
  const spot = r.scenario.interruptions.length;
  const spotText = spot > 0 ? `${spot} Spot node${spot === 1 ? '' : 's'} emptied before EC2 interrupted ${spot === 1 ? 'it' : 'them'}` : '';
  if (n === 0) return spotText;
  return `${spotText ? `${spotText}; ` : ''}${n} lifecycle action${n === 1 ? '' : 's'} completed with ${results} after ${durationLabel(r.summary.drainMs.longest)}${n > 1 ? ' at most' : ''}`;
}

/**
 * Progress on stderr: on a terminal a spinner line rewritten at most every
 * 80 ms (real time); otherwise a line each time virtual time passes another
 * `everyMinutes`.
 */
function progressPrinter(io: Io, everyMinutes: number) {
  const frames = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';
  const everyMs = everyMinutes * 60_000;
  let frame = 0;
  let lastDraw = 0;
  let nextMark = everyMs;
  let drawn = false;
  const describe = (p: Progress) =>
    `${clockLabel(p.elapsedMs)}  ${p.running} execution${p.running === 1 ? '' : 's'} running · ${p.evicted} evicted · ${p.terminating} terminating · ` +
    `${p.heartbeats} heartbeat${p.heartbeats === 1 ? '' : 's'} · ${p.completed}/${p.actions} actions ended`;
  return {
    update(p: Progress) {
      if (io.isTTY) {
        const now = Date.now();
        if (now - lastDraw < 80) return;
        lastDraw = now;
        drawn = true;
        io.err(`\r\x1b[2K${frames[frame++ % frames.length]} ${describe(p)}`);
      } else if (p.elapsedMs >= nextMark) {
        nextMark = (Math.floor(p.elapsedMs / everyMs) + 1) * everyMs;
        io.err(`… ${describe(p)}\n`);
      }
    },
    done() {
      if (drawn) io.err('\r\x1b[2K');
    },
  };
}
