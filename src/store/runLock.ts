import { randomUUID } from 'node:crypto';
import type { HistoryDb } from './database.js';

/** A row of `run_lock`: who deploys against this history.db right now. */
export interface LockRow {
  readonly token: string;
  readonly host: string;
  readonly pid: number;
  readonly operator: string;
  readonly run_id: number | null;
  readonly acquired_at: string;
  readonly heartbeat_at: string;
}

export interface LockOwner {
  readonly host: string;
  readonly pid: number;
  readonly operator: string;
}

export type AcquireResult =
  | { readonly ok: true; readonly lock: RunLock; readonly tookOver: LockRow | null; readonly why: string | null }
  | { readonly ok: false; readonly holder: LockRow };

export interface LockTiming {
  /** How often the holder refreshes its heartbeat. */
  readonly heartbeatMs: number;
  /** A heartbeat older than this means the holder is gone (another machine, or a hung process). */
  readonly staleAfterMs: number;
}

export const DEFAULT_LOCK_TIMING: LockTiming = { heartbeatMs: 5_000, staleAfterMs: 60_000 };

/** The environment variable that shortens the staleness (tests of takeover; a site with fast failover). */
export const LOCK_STALE_ENV = 'AUTODBAUDIT_LOCK_STALE_SECONDS';

/**
 * The lock's timing: the default, or a staleness from AUTODBAUDIT_LOCK_STALE_SECONDS (0.5 to 3600 s),
 * with the heartbeat at a fifth of it (at most 5 s). Returns a message instead when the value is unusable.
 */
export function lockTimingFromEnv(env: NodeJS.ProcessEnv = process.env): LockTiming | string {
  const text = env[LOCK_STALE_ENV];
  if (text === undefined || text.trim() === '') return DEFAULT_LOCK_TIMING;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0.5 || seconds > 3600) {
    return `${LOCK_STALE_ENV}=${JSON.stringify(text)}: expected a number of seconds from 0.5 to 3600`;
  }
  const staleAfterMs = Math.round(seconds * 1000);
  return { staleAfterMs, heartbeatMs: Math.min(DEFAULT_LOCK_TIMING.heartbeatMs, Math.max(100, Math.round(staleAfterMs / 5))) };
}

/** Whether a process of this machine is alive; signal 0 only checks. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Two orchestrators never deploy against one history.db at once. The lock is a row with its owner
 * and a heartbeat; a lock whose owner is dead (same machine) or whose heartbeat is stale is taken
 * over, and the caller warns about it.
 */
export class RunLock {
  private timer: NodeJS.Timeout | null = null;
  private lost = false;
  private readonly lostListeners: (() => void)[] = [];

  private constructor(
    private readonly db: HistoryDb,
    readonly token: string,
    private readonly timing: LockTiming,
  ) {}

  /** Why a held lock may be taken over, or null when its holder is alive and beating. */
  static staleReason(holder: LockRow, owner: LockOwner, timing: LockTiming, now: number, isAlive: (pid: number) => boolean): string | null {
    const age = now - Date.parse(holder.heartbeat_at);
    const sameHost = holder.host.toLowerCase() === owner.host.toLowerCase();
    if (sameHost && !isAlive(holder.pid)) return `its process ${holder.pid} on ${holder.host} is gone`;
    if (age > timing.staleAfterMs) return `its heartbeat is ${Math.round(age / 1000)} s old`;
    return null;
  }

  /** The live holder of the lock, if any: a quick look before planning, without taking it. */
  static activeHolder(
    db: HistoryDb,
    owner: LockOwner,
    timing: LockTiming = DEFAULT_LOCK_TIMING,
    now: () => number = Date.now,
    isAlive: (pid: number) => boolean = processAlive,
  ): LockRow | null {
    const holder = db.prepare('SELECT * FROM run_lock WHERE id = 1').get() as LockRow | undefined;
    if (!holder) return null;
    return RunLock.staleReason(holder, owner, timing, now(), isAlive) === null ? holder : null;
  }

  static acquire(
    db: HistoryDb,
    owner: LockOwner,
    timing: LockTiming = DEFAULT_LOCK_TIMING,
    now: () => number = Date.now,
    isAlive: (pid: number) => boolean = processAlive,
  ): AcquireResult {
    const token = randomUUID();
    return db
      .transaction((): AcquireResult => {
        const holder = db.prepare('SELECT * FROM run_lock WHERE id = 1').get() as LockRow | undefined;
        let why: string | null = null;
        if (holder) {
          why = RunLock.staleReason(holder, owner, timing, now(), isAlive);
          if (why === null) return { ok: false, holder };
          db.prepare('DELETE FROM run_lock WHERE id = 1').run();
        }
        const at = new Date(now()).toISOString();
        db.prepare(
          'INSERT INTO run_lock (id, token, host, pid, operator, run_id, acquired_at, heartbeat_at) VALUES (1, ?, ?, ?, ?, NULL, ?, ?)',
        ).run(token, owner.host, owner.pid, owner.operator, at, at);
        const lock = new RunLock(db, token, timing);
        return { ok: true, lock, tookOver: holder ?? null, why };
      })
      .immediate();
  }

  /** Called once when a heartbeat finds the lock no longer ours (another process took it over). */
  onLost(listener: () => void): void {
    this.lostListeners.push(listener);
  }

  get isLost(): boolean {
    return this.lost;
  }

  /** Starts refreshing the heartbeat in the background until release. */
  startHeartbeat(): void {
    this.timer = setInterval(() => {
      try {
        this.beat();
      } catch {
        // A busy or failing database: the next beat tries again; writes are fenced anyway.
      }
    }, this.timing.heartbeatMs);
    this.timer.unref();
  }

  /** Refreshes the heartbeat; returns false (and tells the listeners, once) when the lock is no longer ours. */
  beat(now: number = Date.now()): boolean {
    if (this.lost) return false;
    const changes = this.db.prepare('UPDATE run_lock SET heartbeat_at = ? WHERE id = 1 AND token = ?').run(new Date(now).toISOString(), this.token).changes;
    if (changes === 1) return true;
    this.markLost();
    return false;
  }

  /** Someone found the lock taken over (a heartbeat, or a fenced write): stop beating and tell the listeners. */
  markLost(): void {
    if (this.lost) return;
    this.lost = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const listener of this.lostListeners) listener();
  }

  setRun(runId: number): void {
    this.db.prepare('UPDATE run_lock SET run_id = ? WHERE id = 1 AND token = ?').run(runId, this.token);
  }

  release(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.db.prepare('DELETE FROM run_lock WHERE id = 1 AND token = ?').run(this.token);
  }
}
