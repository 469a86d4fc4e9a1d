/**
 * The rehearsal as one self-contained HTML page: inline CSS and SVG, no
 * script and no external URL, so it opens anywhere (an attachment, an
 * air-gapped laptop). A timeline chart with one row per pod that was on a
 * drained node (running → evicted → terminating → gone), the heartbeats, the
 * deadline and the completion drawn across it; then the summary figures, the
 * lifecycle actions and the text timeline.
 */
import type { RehearsalResult } from './rehearse';
import { summaryRows } from './summary';
import { clockLabel, durationLabel, shortNode, type Marker, type PodLife } from './timeline';

const LABEL_WIDTH = 330;
const PLOT_WIDTH = 800;
const RIGHT_PAD = 20;
const ROW = 18;
const GROUP_HEADER = 24;
const AXIS = 28;

const COLORS = {
  running: '#c9d6e8',
  waited: '#8fbf8f',
  finished: '#2ca02c',
  terminating: '#f0a040',
  forced: '#b05cc8',
  blocked: '#d62728',
  leftAlone: '#e3e3e3',
  gone: '#333333',
  heartbeat: '#1f77b4',
  'deadline-acts': '#d62728',
  'hard-limit': '#7f0000',
  completed: '#2ca02c',
  'timed-out': '#000000',
  failed: '#000000',
} as const;

export function renderReport(r: RehearsalResult): string {
  const passed = r.failures.length === 0;
  const s = r.scenario;
  const title = `Drain rehearsal: ${s.name}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
  <h1>${esc(title)}</h1>
  ${s.description ? `<p class="description">${esc(s.description.trim())}</p>` : ''}
  <p class="config">${esc(configLine(r))}</p>
  <p class="verdict ${passed ? 'passed' : 'failed'}" data-verdict="${passed ? 'passed' : 'failed'}">${passed ? 'PASSED' : 'FAILED'}${passed ? '' : ` — ${r.failures.length} problem${r.failures.length === 1 ? '' : 's'}`}</p>
  ${passed ? '' : `<ul class="failures">${r.failures.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>`}
</header>
<section>
  <h2>Timeline</h2>
  ${legend()}
  <div class="chart">${chart(r)}</div>
  ${offChartNotes(r)}
</section>
<section class="columns">
  <div>
    <h2>Summary</h2>
    <table class="summary">${summaryRows(r.summary).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>
    <p class="note">Virtual time: the drain ran as it would in AWS, the clock jumped whenever everything waited. Cost at list prices (us-east-1): Step Functions $0.025 per 1,000 state transitions, Lambda $0.20 per 1M requests and $0.0000133334 per GB-s (arm64).</p>
  </div>
  <div>
    <h2>Lifecycle actions</h2>
    ${actionsTable(r)}
  </div>
</section>
<section>
  <h2>Events</h2>
  <details${r.timeline.length <= 120 ? ' open' : ''}><summary>${r.timeline.length} events</summary>
  <table class="events">${r.timeline
    .map((e) => `<tr class="ev-${e.kind}"><td class="t">${clockLabel(e.at)}</td><td class="n">${esc(e.node ? shortNode(e.node) : '')}</td><td>${esc(e.text)}</td></tr>`)
    .join('')}</table>
  </details>
</section>
</body>
</html>
`;
}

function configLine(r: RehearsalResult): string {
  const s = r.scenario;
  const limit = s.drain.maxDrainSeconds > 0 ? `max drain ${durationLabel(s.drain.maxDrainSeconds * 1000)}` : 'max drain: as long as the hook allows';
  return `${s.terminations.length} node${s.terminations.length === 1 ? '' : 's'} terminated · heartbeat timeout ${s.hook.heartbeatTimeoutSeconds} s · ${limit} · on deadline: ${s.drain.onDeadline} · virtual time ${durationLabel(r.facts.virtualMs)}, real ${(r.facts.realMs / 1000).toFixed(1)} s`;
}

/** The time the chart spans: the run, plus a deadline that falls a little after it. */
function chartEnd(r: RehearsalResult): number {
  const base = Math.max(r.facts.virtualMs, ...r.timeline.map((e) => e.at), 60_000);
  const nearMarkers = r.markers.filter((m) => m.at <= base * 1.25).map((m) => m.at);
  return Math.max(base, ...nearMarkers) * 1.03;
}

function chart(r: RehearsalResult): string {
  const end = chartEnd(r);
  const x = (ms: number) => LABEL_WIDTH + (Math.min(Math.max(ms, 0), end) / end) * PLOT_WIDTH;
  const groups = groupByNode(r);
  const multi = groups.length > 1;
  let y = AXIS;
  const body: string[] = [];
  const markerLayers: string[] = [];
  for (const group of groups) {
    const top = y;
    if (multi) {
      body.push(`<g class="node-header"><rect x="0" y="${y}" width="${LABEL_WIDTH + PLOT_WIDTH + RIGHT_PAD}" height="${GROUP_HEADER}" class="band"/><text x="6" y="${y + 16}" class="node-label">${esc(shortNode(group.node))}${group.instanceId ? ` · ${esc(group.instanceId)}` : ''}</text></g>`);
      y += GROUP_HEADER;
    }
    for (const pod of group.pods) {
      body.push(podRow(pod, y, x, end));
      y += ROW;
    }
    const bottom = y;
    // With several nodes each marker spans its own node's rows only.
    const markers = r.markers.filter((m) => m.at <= end && (!multi || !m.node || m.node === group.node));
    markerLayers.push(...markers.map((m) => markerLine(m, x(m.at), multi ? top : AXIS, multi ? bottom : -1)));
    y += multi ? 6 : 0;
  }
  const height = y + 8;
  const full = markerLayers.map((m) => m.replace('y2="-1"', `y2="${height - 8}"`));
  return `<svg class="timeline" width="${LABEL_WIDTH + PLOT_WIDTH + RIGHT_PAD}" height="${height}" viewBox="0 0 ${LABEL_WIDTH + PLOT_WIDTH + RIGHT_PAD} ${height}" role="img" aria-label="Timeline of the drain, one row per pod">
${axis(end, x, height)}
${body.join('\n')}
<g class="markers">${full.join('')}</g>
</svg>`;
}

function groupByNode(r: RehearsalResult): Array<{ node: string; instanceId?: string; pods: PodLife[] }> {
  const groups: Array<{ node: string; instanceId?: string; pods: PodLife[] }> = [];
  for (const pod of r.pods) {
    let group = groups.find((g) => g.node === pod.node);
    if (!group) {
      group = { node: pod.node, instanceId: r.scenario.terminations.find((t) => t.node === pod.node)?.instanceId, pods: [] };
      groups.push(group);
    }
    group.pods.push(pod);
  }
  return groups;
}

function podRow(pod: PodLife, y: number, x: (ms: number) => number, end: number): string {
  const mid = y + ROW / 2;
  const bar = (from: number, to: number, color: string, cls: string, tip: string, extra = '') =>
    to > from ? `<rect class="${cls}" x="${x(from).toFixed(1)}" y="${y + 3}" width="${Math.max(1, x(to) - x(from)).toFixed(1)}" height="${ROW - 6}" fill="${color}"${extra}><title>${esc(tip)}</title></rect>` : '';
  const parts: string[] = [];
  const stopsAt = pod.terminatingAt ?? pod.finishedAt ?? pod.goneAt ?? end;
  const stays = pod.terminatingAt === undefined && pod.goneAt === undefined && (pod.owner === 'DaemonSet' || pod.owner === 'mirror' || pod.toleratesDrain === true);
  const why = pod.toleratesDrain ? 'tolerates the drain' : pod.owner === 'mirror' ? 'mirror pod' : 'DaemonSet';
  parts.push(
    stays
      ? bar(pod.since, end, 'url(#left-alone)', 'seg-left-alone', `${pod.pod}: left alone (${why}), goes with the instance`)
      : bar(pod.since, pod.waitedSince ?? stopsAt, COLORS.running, 'seg-running', `${pod.pod}: running${pod.blockedAt.length ? `, eviction refused ${pod.blockedAt.length}× by PDB ${pod.blockedBy ?? ''}` : ''}`),
  );
  if (pod.waitedSince !== undefined) {
    // Asked not to be disrupted: the drain waits for it instead of evicting it.
    parts.push(bar(pod.waitedSince, stopsAt, COLORS.waited, 'seg-waited', `${pod.pod}: waited for (do-not-disrupt), not evicted${pod.finishedAt !== undefined ? `; finished on its own ${clockLabel(pod.finishedAt)}` : ''}`));
  }
  if (pod.finishedAt !== undefined && pod.terminatingAt === undefined) {
    parts.push(`<circle class="finished" cx="${x(pod.finishedAt).toFixed(1)}" cy="${mid}" r="4" fill="${COLORS.finished}"><title>${esc(`${clockLabel(pod.finishedAt)} ${pod.pod} finished on its own`)}</title></circle>`);
  }
  if (pod.terminatingAt !== undefined) {
    const until = pod.goneAt ?? end;
    const gone = pod.goneAt !== undefined ? `gone ${clockLabel(pod.goneAt)} (${durationLabel(pod.goneAt - pod.terminatingAt)} after SIGTERM)` : 'still terminating';
    const evicted = pod.evictedAt !== undefined ? `evicted ${clockLabel(pod.evictedAt)}, ` : '';
    const forcedAt = pod.forceDeletedAt;
    // A pod evicted earlier and force-deleted at the deadline: orange, then purple from the deadline.
    parts.push(bar(pod.terminatingAt, forcedAt ?? until, COLORS.terminating, 'seg-terminating', `${pod.pod}: ${evicted}terminating ${clockLabel(pod.terminatingAt)}, ${gone}`));
    if (forcedAt !== undefined) {
      parts.push(bar(forcedAt, until, COLORS.forced, 'seg-forced', `${pod.pod}: force-deleted ${clockLabel(forcedAt)} with its grace clamped to ${pod.forceGraceSeconds} s, ${gone}`));
    }
  }
  for (const at of pod.blockedAt) {
    parts.push(`<line class="blocked" x1="${x(at).toFixed(1)}" x2="${x(at).toFixed(1)}" y1="${y + 2}" y2="${y + ROW - 2}" stroke="${COLORS.blocked}" stroke-width="1.5"><title>${esc(`${clockLabel(at)} eviction refused by PDB ${pod.blockedBy ?? ''}`)}</title></line>`);
  }
  if (pod.goneAt !== undefined) {
    parts.push(`<circle class="gone" cx="${x(pod.goneAt).toFixed(1)}" cy="${mid}" r="3" fill="${COLORS.gone}"><title>${esc(`${clockLabel(pod.goneAt)} ${pod.pod} gone`)}</title></circle>`);
  }
  return `<g class="pod-row" data-pod-row="${esc(pod.pod)}" data-owner="${pod.owner}">
<text x="6" y="${mid + 4}" class="pod-label">${esc(truncate(pod.pod, 34))}<title>${esc(pod.pod)}</title></text><text x="${LABEL_WIDTH - 8}" y="${mid + 4}" class="owner" text-anchor="end">${esc(pod.owner === 'none' ? 'pod' : pod.owner)}</text>
<line x1="${LABEL_WIDTH}" x2="${LABEL_WIDTH + PLOT_WIDTH}" y1="${y + ROW}" y2="${y + ROW}" class="grid"/>
${parts.join('')}
</g>`;
}

function markerLine(m: Marker, x: number, top: number, bottom: number): string {
  const dash = m.kind === 'heartbeat' ? ' stroke-dasharray="4 3"' : m.kind === 'hard-limit' ? ' stroke-dasharray="2 2"' : '';
  return `<line class="marker marker-${m.kind}" data-marker="${m.kind}" x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${top}" y2="${bottom}" stroke="${COLORS[m.kind]}" stroke-width="${m.kind === 'completed' || m.kind === 'deadline-acts' ? 2 : 1.5}"${dash}><title>${esc(`${clockLabel(m.at)} ${m.label}${m.node ? ` (${shortNode(m.node)})` : ''}`)}</title></line>`;
}

function axis(end: number, x: (ms: number) => number, height: number): string {
  const step = tickStep(end);
  const ticks: string[] = [];
  for (let t = 0; t <= end; t += step) {
    const label = tickLabel(t, end);
    ticks.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${AXIS - 4}" y2="${height - 8}" class="tick"/><text x="${x(t).toFixed(1)}" y="${AXIS - 8}" text-anchor="middle" class="tick-label">${label}</text>`);
  }
  return `<defs><pattern id="left-alone" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="${COLORS.leftAlone}"/><line x1="0" y1="0" x2="0" y2="6" stroke="#c4c4c4" stroke-width="2"/></pattern></defs>
<text x="6" y="${AXIS - 8}" class="axis-title">pod · virtual time since the start →</text>${ticks.join('')}`;
}

/** `0`, `10 min`, `1h30`: short enough for a tick. */
function tickLabel(t: number, end: number): string {
  if (t === 0) return '0';
  const minutes = Math.round(t / 60_000);
  if (end < 2 * 3_600_000) return `${minutes} min`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}`;
}

/** About eight ticks, on round minutes or hours. */
function tickStep(end: number): number {
  const minute = 60_000;
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440].map((m) => m * minute);
  return steps.find((s) => end / s <= 10) ?? steps.at(-1)!;
}

function legend(): string {
  const item = (swatch: string, label: string) => `<span class="item">${swatch}${esc(label)}</span>`;
  const box = (color: string) => `<span class="swatch" style="background:${color}"></span>`;
  const line = (color: string, dashed = false) => `<span class="swatch line" style="border-color:${color};border-left-style:${dashed ? 'dashed' : 'solid'}"></span>`;
  return `<p class="legend">${[
    item(box(COLORS.running), 'running'),
    item(box(COLORS.waited), 'waited for (do-not-disrupt), not evicted'),
    item(box(COLORS.terminating), 'terminating (evicted, grace period)'),
    item(box(COLORS.forced), 'force-deleted (grace clamped)'),
    item(`<span class="swatch hatched"></span>`, 'left alone (DaemonSet, mirror)'),
    item(`<span class="swatch tick" style="background:${COLORS.blocked}"></span>`, 'held back by PDB (a drain round)'),
    item(`<span class="swatch dot"></span>`, 'pod gone'),
    item(line(COLORS.heartbeat, true), 'heartbeat'),
    item(line(COLORS['deadline-acts']), 'deadline: policy acts'),
    item(line(COLORS['hard-limit'], true), 'hard limit'),
    item(line(COLORS.completed), 'lifecycle action completed'),
    item(line(COLORS['timed-out']), 'timed out / failed'),
  ].join('')}</p>`;
}

function offChartNotes(r: RehearsalResult): string {
  const end = chartEnd(r);
  const later = r.markers.filter((m) => m.at > end);
  if (later.length === 0) return '';
  const distinct = [...new Map(later.map((m) => [`${m.kind}@${m.at}`, m])).values()];
  const shown = distinct.slice(0, 3).map((m) => `${m.label} at ${clockLabel(m.at)}`).join('; ');
  return `<p class="note">Beyond the chart: ${esc(shown)}${distinct.length > 3 ? ` and ${distinct.length - 3} more` : ''}.</p>`;
}

function actionsTable(r: RehearsalResult): string {
  const rows = r.actions.map((a) => {
    const ended = a.endedAt === undefined ? 'never' : clockLabel(a.endedAt);
    const how = a.how === 'completed' ? `completed with ${a.result}` : a.how === 'timed-out' ? `TIMED OUT (${a.timeout}), ${a.result}` : 'still pending';
    return `<tr class="${a.how}"><td>${esc(a.instanceId)}</td><td>${esc(shortNode(a.node))}</td><td>${clockLabel(a.startedAt)}</td><td>${ended}</td><td>${esc(how)}</td><td>${esc(a.reason ?? '')}</td><td class="num">${a.heartbeats}</td></tr>`;
  });
  return `<table class="actions"><tr><th>instance</th><th>node</th><th>started</th><th>ended</th><th>how</th><th>reason</th><th>heartbeats</th></tr>${rows.join('')}</table>`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const CSS = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px; color: #1d1d1f; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
.description { margin: 4px 0; color: #444; white-space: pre-line; max-width: 1100px; }
.config { color: #555; margin: 4px 0; }
.verdict { display: inline-block; padding: 3px 10px; border-radius: 4px; font-weight: 600; margin: 8px 0 0; }
.verdict.passed { background: #e3f4e5; color: #1b6b2a; }
.verdict.failed { background: #fde4e4; color: #a01818; }
.failures { color: #a01818; }
.chart { overflow-x: auto; border: 1px solid #e2e2e2; border-radius: 4px; padding: 6px 0; }
svg.timeline { display: block; font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
svg .pod-label { fill: #222; }
svg .owner { fill: #888; font-size: 11px; }
svg .node-label { fill: #333; font-weight: 600; }
svg .band { fill: #f3f5f8; }
svg .grid { stroke: #f0f0f0; }
svg .tick { stroke: #e6e6e6; }
svg .tick-label, svg .axis-title { fill: #666; font-size: 11px; }
svg .pod-row:hover .pod-label { font-weight: 700; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 16px; font-size: 12px; color: #333; margin: 0 0 8px; }
.legend .item { display: inline-flex; align-items: center; gap: 5px; }
.swatch { display: inline-block; width: 18px; height: 10px; border-radius: 2px; }
.swatch.line { width: 0; height: 14px; border-left: 2px solid; border-radius: 0; }
.swatch.tick { width: 2px; height: 12px; }
.swatch.dot { width: 7px; height: 7px; border-radius: 50%; background: #333; }
.swatch.hatched { background: repeating-linear-gradient(45deg, #e3e3e3 0 3px, #c4c4c4 3px 5px); }
.columns { display: flex; flex-wrap: wrap; gap: 0 40px; }
table { border-collapse: collapse; }
table.summary th { text-align: left; font-weight: 600; padding: 3px 16px 3px 0; vertical-align: top; white-space: nowrap; }
table.summary td { padding: 3px 0; max-width: 620px; }
table.actions th, table.actions td { padding: 3px 10px 3px 0; text-align: left; font-size: 13px; }
table.actions tr.timed-out, table.actions tr.pending { color: #a01818; font-weight: 600; }
td.num { text-align: right; }
table.events td { padding: 1px 12px 1px 0; font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; vertical-align: top; }
table.events td.t { color: #666; white-space: nowrap; }
table.events td.n { color: #666; white-space: nowrap; }
table.events tr.ev-completed td, table.events tr.ev-deadline td { font-weight: 700; }
table.events tr.ev-timed-out td, table.events tr.ev-failed td { color: #a01818; font-weight: 700; }
.note { color: #666; font-size: 12px; max-width: 900px; }
`;
