import type { DeployObserver } from '../deploy/observer.js';
import type { EventLevel } from '../store/states.js';
import { levelAtLeast, type LogFile } from './logger.js';

interface ActiveHost {
  server: string;
  step: number;
  total: number;
  installer: string;
  since: number;
}

export interface ProgressOptions {
  readonly out: NodeJS.WriteStream;
  readonly interactive: boolean;
  /** Lowest level shown on screen. */
  readonly screenLevel: EventLevel;
  readonly log: LogFile | null;
}

/**
 * What the operator sees while a deployment runs. In a terminal: messages scroll above a live block
 * with one line per active host (host, step k of n, installer, elapsed time). Without a terminal:
 * plain timestamped lines, one per event, fit for a log collector.
 */
export class ProgressView implements DeployObserver {
  private readonly active = new Map<string, ActiveHost>();
  private drawnLines = 0;
  private etaLine: string | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly options: ProgressOptions) {
    if (options.interactive) {
      this.timer = setInterval(() => this.redraw(), 250);
      this.timer.unref();
    }
  }

  hostStarted(server: string, totalSteps: number): void {
    this.active.set(server, { server, step: 0, total: totalSteps, installer: 'connecting', since: Date.now() });
    this.line('info', `${server}: started (${totalSteps} installer${totalSteps === 1 ? '' : 's'})`);
  }

  stepStarted(server: string, index: number, total: number, installer: string): void {
    this.active.set(server, { server, step: index, total, installer, since: Date.now() });
    this.line('info', `${server}: step ${index}/${total} ${installer}`);
  }

  hostFinished(server: string, summary: string): void {
    this.active.delete(server);
    this.line('info', `${server}: finished: ${summary}`);
  }

  /** The expected end of the run and of its wave: shown above the active hosts until the next update. */
  eta(summary: string): void {
    this.etaLine = summary;
    this.redraw();
  }

  log(level: EventLevel, message: string, error?: unknown): void {
    this.options.log?.write(level, message, error);
    this.print(level, message);
  }

  /**
   * Host progress feeds the live block only: the history's events already say the same in words,
   * on screen and in the log.
   */
  private line(_level: EventLevel, message: string): void {
    this.options.log?.write('debug', message);
    this.redraw();
  }

  private print(level: EventLevel, message: string): void {
    if (!levelAtLeast(level, this.options.screenLevel)) return;
    if (this.options.interactive) {
      this.clearBlock();
      const colour = level === 'error' ? '\x1b[31m' : level === 'warn' ? '\x1b[33m' : '';
      this.options.out.write(`${colour}${message}${colour ? '\x1b[0m' : ''}\n`);
      this.drawBlock();
    } else {
      this.options.out.write(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${message}\n`);
    }
  }

  private redraw(): void {
    if (!this.options.interactive) return;
    this.clearBlock();
    this.drawBlock();
  }

  private clearBlock(): void {
    if (this.drawnLines > 0) this.options.out.write(`\x1b[${this.drawnLines}A\x1b[0J`);
    this.drawnLines = 0;
  }

  private drawBlock(): void {
    const lines = [...this.active.values()].map((h) => {
      const elapsed = formatElapsed(Date.now() - h.since);
      const step = h.step === 0 ? 'pre-flight' : `step ${h.step}/${h.total}`;
      return `  ▸ ${h.server.padEnd(16)} ${step.padEnd(11)} ${h.installer}  ${elapsed}`;
    });
    if (lines.length === 0) return;
    if (this.etaLine) lines.unshift(`  ${this.etaLine}`);
    this.options.out.write(`${lines.join('\n')}\n`);
    this.drawnLines = lines.length;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.clearBlock();
  }
}

export function formatElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}
