/**
 * Powertools Logger and Metrics whose output is kept in memory instead of
 * stdout: tests read the structured log lines and the EMF documents, and the
 * rehearsal turns them into its timeline.
 */
import { Console } from 'node:console';
import { Writable } from 'node:stream';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DEFAULT_METRICS_NAMESPACE, SERVICE_NAME, type Observability } from '../lambda/handlers/observability';

export type JsonLine = Record<string, unknown>;

export interface CapturedObservability extends Observability {
  logs: JsonLine[];
  emf: JsonLine[];
  /** What Powertools Metrics said about itself ("No application metrics to publish", …). */
  metricsWarnings: string[];
  /** Sum of one metric over all EMF documents, optionally only where dimensions match. */
  metricTotal(name: string, dimensions?: Record<string, string>): number;
}

function lineSink(into: JsonLine[], onLine?: (line: JsonLine) => void): Console {
  let buffer = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      buffer += chunk.toString();
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const text = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (!text.trim()) continue;
        try {
          const line = JSON.parse(text) as JsonLine;
          into.push(line);
          onLine?.(line);
        } catch {
          into.push({ message: text });
        }
      }
      done();
    },
  });
  return new Console({ stdout: stream, stderr: stream });
}

export function captureObservability(opts: { namespace?: string; onLog?: (line: JsonLine) => void } = {}): CapturedObservability {
  const logs: JsonLine[] = [];
  const emf: JsonLine[] = [];
  const logger = new Logger({ serviceName: SERVICE_NAME, logLevel: 'DEBUG' });
  const metricsWarnings: string[] = [];
  const note = (...args: unknown[]) => void metricsWarnings.push(args.map(String).join(' '));
  const metrics = new Metrics({
    serviceName: SERVICE_NAME,
    namespace: opts.namespace ?? DEFAULT_METRICS_NAMESPACE,
    // Its own warnings go to this logger, bound at construction: keep them in memory too.
    logger: { debug: note, info: note, warn: note, error: note, trace: note },
  });
  // Both keep a private Console on stdout (see their initConsole); point it at memory.
  (logger as unknown as { console: Console }).console = lineSink(logs, opts.onLog);
  const emfConsole = lineSink(emf);
  (metrics as unknown as { console: Console }).console = emfConsole;
  // singleMetric() builds a fresh Metrics with its own stdout Console: capture that one too.
  const singleMetric = metrics.singleMetric.bind(metrics);
  metrics.singleMetric = () => {
    const single = singleMetric();
    (single as unknown as { console: Console }).console = emfConsole;
    return single;
  };
  return {
    logger,
    metrics,
    logs,
    emf,
    metricsWarnings,
    metricTotal(name, dimensions = {}) {
      return emf
        .filter((doc) => Object.entries(dimensions).every(([k, v]) => doc[k] === v))
        .reduce((sum, doc) => {
          const value = doc[name];
          if (typeof value === 'number') return sum + value;
          if (Array.isArray(value)) return sum + value.reduce((a: number, b) => a + Number(b), 0);
          return sum;
        }, 0);
    },
  };
}
