import { closeSync, existsSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { EVENT_LEVEL, type EventLevel } from '../store/states.js';

export const LOG_LEVELS = EVENT_LEVEL;

/** Accepts DEBUG, info, Warning, …; returns null for anything else. */
export function parseLogLevel(text: string): EventLevel | null {
  const normalized = text.trim().toLowerCase().replace(/^warning$/, 'warn');
  return (LOG_LEVELS as readonly string[]).includes(normalized) ? (normalized as EventLevel) : null;
}

export function levelAtLeast(level: EventLevel, threshold: EventLevel): boolean {
  return LOG_LEVELS.indexOf(level) >= LOG_LEVELS.indexOf(threshold);
}

/**
 * The deployment log, `output/logs/hotfix_YYYYMMDD_HHMMSS.log` (UTC): one timestamped line per
 * event, errors followed by their stack trace. Written synchronously so a crash loses nothing.
 */
export class LogFile {
  private fd: number | null;

  private constructor(
    readonly file: string,
    private readonly threshold: EventLevel,
  ) {
    this.fd = openSync(file, 'a');
  }

  static create(outputDir: string, threshold: EventLevel, now: Date = new Date()): LogFile {
    const dir = path.join(outputDir, 'logs');
    mkdirSync(dir, { recursive: true });
    const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
    let file = path.join(dir, `hotfix_${stamp}.log`);
    for (let n = 2; existsSync(file); n++) file = path.join(dir, `hotfix_${stamp}_${n}.log`);
    return new LogFile(file, threshold);
  }

  write(level: EventLevel, message: string, error?: unknown): void {
    if (this.fd === null || !levelAtLeast(level, this.threshold)) return;
    let text = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${message}\n`;
    if (error instanceof Error && error.stack && (level === 'error' || this.threshold === 'debug')) {
      text += `${indent(error.stack)}\n`;
      if (error.cause instanceof Error && error.cause.stack) text += `${indent(`caused by: ${error.cause.stack}`)}\n`;
    }
    writeSync(this.fd, text);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}
