/**
 * Small helpers for the benches: aligned text tables, number formatting and
 * a poller that notices when a condition on the fake cluster first holds.
 */

/** Renders rows as an aligned text table; the first row is the header. */
export function table(rows: Array<Array<string | number>>, align: Array<'l' | 'r'> = []): string {
  const cells = rows.map((r) => r.map(String));
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r.map((c, i) => ((align[i] ?? (i === 0 ? 'l' : 'r')) === 'l' ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(cells[0]), rule, ...cells.slice(1).map(line)].join('\n');
}

export const seconds = (ms: number | undefined): string => (ms === undefined || !Number.isFinite(ms) ? 'n/a' : `${(ms / 1000).toFixed(1)} s`);
export const percent = (part: number, whole: number): string => (whole === 0 ? '0.0 %' : `${((100 * part) / whole).toFixed(1)} %`);
export const ratio = (a: number, b: number): string => (b === 0 ? 'n/a' : `${(a / b).toFixed(3)}`);

export const verdict = (ok: boolean): string => (ok ? 'PASS' : 'FAIL  <<<<<<<<');

/**
 * Calls `holds` every `everyMs` and remembers the first moment it held
 * (and the last moment it did not), until stopped.
 */
export function watchFor(holds: () => boolean, everyMs = 100) {
  const state: { firstTrueAt?: number; lastFalseAt?: number } = {};
  const tick = () => {
    const now = Date.now();
    if (holds()) state.firstTrueAt ??= now;
    else {
      state.lastFalseAt = now;
      state.firstTrueAt = undefined;
    }
  };
  tick();
  const timer = setInterval(tick, everyMs);
  return {
    get firstTrueAt() {
      return state.firstTrueAt;
    },
    stop() {
      clearInterval(timer);
      tick();
    },
  };
}
