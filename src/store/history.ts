import { createHash } from 'node:crypto';
import { LockLostError } from '../errors.js';
import type { HostPlan, PlanTarget } from '../plan/types.js';
import type { DurationSample } from '../predict/durations.js';
import { type HistoryDb, nowIso, type StatementCache, statements } from './database.js';
import { ensureServer } from './servers.js';
import type { ActionKind, ActionStatus, EventLevel, RunMode, RunStatus, StepStatus, TargetStatus, WaveStatus } from './states.js';

/** A row of `hotfix_runs`. */
export interface RunRow {
  readonly id: number;
  readonly started_at: string;
  readonly finished_at: string | null;
  readonly status: RunStatus;
  readonly mode: RunMode;
  /** JSON of the options the run was started with. */
  readonly options: string;
  readonly parent_run_id: number | null;
  readonly operator: string;
  readonly host: string;
  readonly config_path: string | null;
  readonly exit_code: number | null;
}

/** A row of `hotfix_targets`: one instance within a run. */
export interface TargetRow {
  readonly id: number;
  readonly hotfix_run_id: number;
  readonly server_id: number;
  readonly server: string;
  readonly instance: string;
  readonly version_family: string | null;
  readonly edition: string | null;
  /** What the planner concluded (pending, up_to_date, …). */
  readonly plan_status: PlanTarget['status'];
  readonly pre_build: string | null;
  readonly post_build: string | null;
  readonly target_build: string | null;
  readonly status: TargetStatus;
  readonly requires_restart: 0 | 1;
  /** 1 when the host answered (discovery or deployment), 0 when it could not be reached, null when not tried. */
  readonly reached: 0 | 1 | null;
  /** The plan's message (the mapping's description, or why nothing is scheduled). */
  readonly message: string | null;
  readonly error_message: string | null;
  readonly started_at: string | null;
  readonly completed_at: string | null;
  /** Position of the target's wave in hotfix_waves; null when the run has no waves. */
  readonly wave?: number | null;
  /** Set when skipped because its host's work would not fit the maintenance window: the predicted milliseconds it needed. */
  readonly deferred_ms?: number | null;
  /** 1 for an instance no target names that setup with /AllInstances patches with the planned ones (found by pre-flight). */
  readonly patched_alongside?: 0 | 1;
}

/** An instance no target names that an /AllInstances execution on its host will patch too. */
export interface AlongsideInstance {
  readonly instance: string;
  readonly edition: string | null;
  readonly family: string;
  readonly preBuild: string;
  readonly targetBuild: string | null;
  /** The executions (their first step row, copied) that will patch it, in host order. */
  readonly steps: readonly StepRow[];
}

/** A row of `hotfix_steps`: one installer for one target. */
export interface StepRow {
  readonly id: number;
  readonly hotfix_target_id: number;
  readonly step_order: number;
  /** Position of the installer on its host; the steps of one execution share it. */
  readonly host_step_order: number;
  readonly installer_file: string;
  readonly installer_path: string;
  readonly parameters: string;
  readonly sha256: string | null;
  readonly description: string | null;
  readonly required: 0 | 1;
  /** Names the installer execution on the host; shared by the steps that one execution serves. */
  readonly execution_id: string;
  readonly status: StepStatus;
  readonly started_at: string | null;
  readonly completed_at: string | null;
  readonly exit_code: number | null;
  readonly exit_meaning: string | null;
  readonly duration_ms: number | null;
  /** Setup's output: the tail of Summary.txt when the target had one. */
  readonly output: string | null;
  readonly error_message: string | null;
  /** The mapping's expected_minutes for the installer, recorded with the run. */
  readonly expected_minutes?: number | null;
}

/**
 * A row of `hotfix_actions`: one node of a run's graph. An `install` action's status is read from
 * its execution's steps (the record reports read); every other kind keeps its own.
 */
export interface ActionRow {
  readonly id: number;
  readonly hotfix_run_id: number;
  /** The host the action works on. */
  readonly server: string;
  /** The instance, for actions that concern one (an AG replica); null for host actions. */
  readonly instance: string | null;
  readonly kind: ActionKind;
  /** Position in the run's graph: a topological order (dependencies have a lower seq). */
  readonly seq: number;
  /** `install` only: the execution whose steps this action runs. */
  readonly execution_id: string | null;
  readonly status: ActionStatus;
  /** Why the action is in the graph (a restart: what asks for it). */
  readonly reason: string | null;
  /** JSON of kind-specific facts (a restart: the boot time before it, when it was requested). */
  readonly detail: string;
  readonly started_at: string | null;
  readonly completed_at: string | null;
  readonly error_message: string | null;
}

/** An edge of the run graph: `action_id` starts only once `depends_on` has finished. */
export interface ActionDependency {
  readonly action_id: number;
  readonly depends_on: number;
}

/** An action to record in a run's graph; `dependsOn` names earlier entries by their `key`. */
export interface NewAction {
  readonly key: string;
  readonly server: string;
  readonly instance?: string | null | undefined;
  readonly kind: ActionKind;
  readonly executionId?: string | null | undefined;
  readonly reason?: string | null | undefined;
  readonly detail?: Record<string, unknown> | undefined;
  readonly dependsOn: readonly string[];
  /** Not an install: its state when recorded, `pending` unless a run recorded before graphs existed had done it already. */
  readonly status?: ActionStatus | undefined;
}

export interface EventRow {
  readonly id: number;
  readonly at: string;
  readonly hotfix_run_id: number | null;
  readonly hotfix_target_id: number | null;
  readonly hotfix_step_id: number | null;
  readonly server: string | null;
  readonly level: EventLevel;
  readonly kind: string;
  readonly message: string;
}

export interface NewEvent {
  readonly runId?: number | null | undefined;
  readonly targetId?: number | null | undefined;
  readonly stepId?: number | null | undefined;
  readonly server?: string | null | undefined;
  readonly level: EventLevel;
  readonly kind: string;
  readonly message: string;
  /** The error behind the event, for the log file's stack trace; only its message is stored. */
  readonly error?: unknown;
}

/** Called after each event is committed: the log file and the screen hear of every event. */
export type EventListener = (event: NewEvent) => void;

/** A guarded transition found its row in another state than expected: someone else moved it. */
export class TransitionConflictError extends Error {
  constructor(what: string) {
    super(`history.db changed underneath: ${what}`);
    this.name = 'TransitionConflictError';
  }
}

export interface NewRun {
  readonly mode: RunMode;
  readonly options: Record<string, unknown>;
  readonly parentRunId: number | null;
  readonly operator: string;
  readonly host: string;
  readonly configPath: string;
  readonly hosts: readonly HostPlan[];
  /** The plan's versions came from asking the hosts (so every target not `unreachable` answered). */
  readonly liveInventory: boolean;
  /** The run's waves, in order, with their hosts; recorded with the run so that a resumed run keeps them. */
  readonly waves?: readonly { name: string; maxFailed: number; soakMinutes: number; servers: readonly string[] }[] | undefined;
  /** The plan JSON's `rolling` object, when the run patches availability groups or failover cluster instances. */
  readonly rolling?: unknown;
  /**
   * Hosts (lower-case) the rolling order holds back (a refused group or FCI has a replica or node
   * there), with why: their pending targets are recorded skipped with that reason, never patched.
   */
  readonly heldBack?: ReadonlyMap<string, string> | undefined;
  /**
   * Failover cluster instances (lower-case virtual name) whose setup runs on each node, with the nodes
   * in the order they are patched: each installer gets one execution per node.
   */
  readonly clusterNodes?: ReadonlyMap<string, readonly string[]> | undefined;
}

/** A row of `hotfix_waves`: one wave of a run and its gate. */
export interface WaveRow {
  readonly id: number;
  readonly hotfix_run_id: number;
  readonly position: number;
  readonly name: string;
  readonly max_failed: number;
  readonly soak_minutes: number;
  readonly status: WaveStatus;
  readonly started_at: string | null;
  /** When its last host finished and the soak began. */
  readonly soak_started_at: string | null;
  /** When the gate passed or halted the run. */
  readonly decided_at: string | null;
  /** Hosts of the wave that failed, as the gate counted them. */
  readonly hosts_failed: number | null;
  readonly reason: string | null;
}

/** The run lock a deploying process writes under: its token, and whom to tell when it is found lost. */
interface Fence {
  readonly token: string;
  readonly onLost: () => void;
  lost: boolean;
}

/**
 * The history of deployments. Every state change is one guarded statement, committed together with
 * its event row before the caller goes on, so that a crash at any instant leaves a true record.
 *
 * Every write goes through `write()`, the one door: while a deploying process holds the run lock
 * (`fenceWith`), the door checks, inside the same IMMEDIATE transaction as the write, that the lock
 * row still carries this process's token. A process that was paused past the heartbeat's staleness
 * and lost the lock to another therefore cannot write anything more: its write fails with
 * LockLostError and nothing of it is committed.
 */
export class History {
  private readonly listeners: EventListener[] = [];
  private readonly statements: StatementCache;
  private fence: Fence | null = null;

  constructor(
    readonly db: HistoryDb,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.statements = statements(db);
  }

  /**
   * From now on every write must find `token` in the run lock, in the same transaction, or fail with
   * LockLostError; `onLost` is called once, after the failed write, when that first happens.
   */
  fenceWith(token: string, onLost: () => void): void {
    this.fence = { token, onLost, lost: false };
  }

  /** The lock was released: writes are no longer fenced. */
  unfence(): void {
    this.fence = null;
  }

  /** True once a fenced write found the lock taken over. */
  get lockLost(): boolean {
    return this.fence?.lost === true;
  }

  /**
   * The one door for writes to history.db: runs `body` in an IMMEDIATE transaction that first checks
   * the fence. A new write (a new table, a new kind of row) goes through here, never `db.transaction`.
   */
  write<T>(body: () => T): T {
    try {
      return this.db
        .transaction(() => {
          this.checkFence();
          return body();
        })
        .immediate();
    } catch (error) {
      if (error instanceof LockLostError && this.fence && !this.fence.lost) {
        this.fence.lost = true;
        this.fence.onLost();
      }
      throw error;
    }
  }

  private checkFence(): void {
    const fence = this.fence;
    if (!fence) return;
    if (!fence.lost) {
      const row = this.statements.prepare('SELECT token FROM run_lock WHERE id = 1').get() as { token: string } | undefined;
      if (row?.token === fence.token) return;
    }
    throw new LockLostError();
  }

  onEvent(listener: EventListener): void {
    this.listeners.push(listener);
  }

  private tell(event: NewEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  now(): string {
    return nowIso(this.clock);
  }

  addEvent(event: NewEvent): void {
    this.write(() => this.insertEvent(event));
    this.tell(event);
  }

  private insertEvent(event: NewEvent): void {
    this.statements
      .prepare(
        `INSERT INTO hotfix_events (at, hotfix_run_id, hotfix_target_id, hotfix_step_id, server, level, kind, message)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        this.now(),
        event.runId ?? null,
        event.targetId ?? null,
        event.stepId ?? null,
        event.server ?? null,
        event.level,
        event.kind,
        event.message,
      );
  }

  /**
   * Records a new run with every plan target and its steps, in one transaction. Targets that the plan
   * does not schedule are recorded as skipped with the plan's reason.
   */
  createRun(run: NewRun): number {
    const started = (runId: number): NewEvent => ({
      runId,
      level: 'info',
      kind: 'run_started',
      message: `run ${runId} started (${run.mode}) by ${run.operator} on ${run.host}`,
    });
    const skippedEvents: NewEvent[] = [];
    const runId = this.write(() => {
        const now = this.now();
        const runId = Number(
          this.statements
            .prepare(
              `INSERT INTO hotfix_runs (started_at, status, mode, options, parent_run_id, operator, host, config_path)
               VALUES (?, 'running', ?, ?, ?, ?, ?, ?)`,
            )
            .run(now, run.mode, JSON.stringify(run.options), run.parentRunId, run.operator, run.host, run.configPath)
            .lastInsertRowid,
        );
        const insertTarget = this.statements.prepare(
          `INSERT INTO hotfix_targets (hotfix_run_id, server_id, server, instance, version_family, edition, plan_status,
             pre_build, target_build, status, requires_restart, reached, message, error_message, completed_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        );
        const insertStep = this.statements.prepare(
          `INSERT INTO hotfix_steps (hotfix_target_id, step_order, host_step_order, installer_file, installer_path, parameters,
             sha256, description, required, execution_id, status, expected_minutes)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)`,
        );
        for (const host of run.hosts) {
          for (const target of host.targets) {
            const serverId = ensureServer(
              this.db,
              { server: target.server, instance: target.instance, transport: host.transport, port: host.port, credential: host.credential },
              'targets_file',
              now,
            );
            const heldBack = target.status === 'pending' ? run.heldBack?.get(target.server.toLowerCase()) : undefined;
            const pending = target.status === 'pending' && heldBack === undefined;
            const why = heldBack !== undefined ? `not patched: ${heldBack}` : target.message;
            const targetId = Number(
              insertTarget.run(
                runId,
                serverId,
                target.server,
                target.instance,
                target.version_family,
                target.edition,
                target.status,
                target.current_build,
                target.target_build,
                pending ? 'pending' : 'skipped',
                pending && target.requires_restart ? 1 : 0,
                target.status === 'unreachable' ? 0 : run.liveInventory ? 1 : null,
                target.message,
                pending ? null : why,
                pending ? null : now,
              ).lastInsertRowid,
            );
            if (!pending) {
              skippedEvents.push({
                runId,
                targetId,
                server: target.server,
                level: heldBack !== undefined || target.status === 'unreachable' || target.status === 'invalid_version' ? 'warn' : 'info',
                kind: 'target_skipped',
                message: `${target.server}\\${target.instance}: skipped (${heldBack !== undefined ? 'held back' : target.status.replace('_', ' ')}): ${why}`,
              });
              continue;
            }
            const name = `${target.server}\\${target.instance}`;
            // A failover cluster instance's setup runs once per node, passive nodes first: one execution each.
            const nodes = run.clusterNodes?.get(host.server.toLowerCase());
            const runsOn = nodes && nodes.length > 0 ? nodes.map((node, index) => ({ node, index })) : [{ node: null, index: 0 }];
            let order = 0;
            for (const { node, index } of runsOn) {
              for (const step of host.steps) {
                if (!step.targets.includes(name)) continue;
                order++;
                const hostOrder = index * host.steps.length + step.order;
                insertStep.run(
                  targetId,
                  order,
                  hostOrder,
                  step.installer,
                  step.localPath,
                  step.parameters,
                  step.sha256,
                  node === null ? step.description : `${step.description} (on node ${node})`,
                  step.required ? 1 : 0,
                  node === null ? executionId(runId, host.server, step.order) : executionId(runId, `${node}.${host.server}`, hostOrder),
                  step.expectedMinutes ?? null,
                );
              }
            }
          }
        }
        if (run.waves && run.waves.length > 0) {
          const insertWave = this.statements.prepare(
            "INSERT INTO hotfix_waves (hotfix_run_id, position, name, max_failed, soak_minutes, status) VALUES (?, ?, ?, ?, ?, 'pending')",
          );
          const setWave = this.statements.prepare('UPDATE hotfix_targets SET wave = ? WHERE hotfix_run_id = ? AND server = ?');
          run.waves.forEach((wave, position) => {
            insertWave.run(runId, position, wave.name, wave.maxFailed, wave.soakMinutes);
            for (const server of wave.servers) setWave.run(position, runId, server);
          });
        }
        if (run.rolling !== undefined) {
          this.statements.prepare('INSERT INTO hotfix_rolling (hotfix_run_id, plan) VALUES (?, ?)').run(runId, JSON.stringify(run.rolling));
        }
        this.insertEvent(started(runId));
        for (const event of skippedEvents) this.insertEvent(event);
        return runId;
      });
    this.tell(started(runId));
    for (const event of skippedEvents) this.tell(event);
    return runId;
  }

  /** The rolling order a run was started with (the plan JSON's `rolling`), or null when it patches no clustered instance. */
  rollingOf(runId: number): unknown {
    const row = this.statements.prepare('SELECT plan FROM hotfix_rolling WHERE hotfix_run_id = ?').get(runId) as { plan: string } | undefined;
    return row ? (JSON.parse(row.plan) as unknown) : null;
  }

  run(runId: number): RunRow | undefined {
    return this.statements.prepare('SELECT * FROM hotfix_runs WHERE id = ?').get(runId) as RunRow | undefined;
  }

  latestRun(): RunRow | undefined {
    return this.statements.prepare('SELECT * FROM hotfix_runs ORDER BY id DESC LIMIT 1').get() as RunRow | undefined;
  }

  latestUnfinishedRun(): RunRow | undefined {
    return this.statements
      .prepare("SELECT * FROM hotfix_runs WHERE status IN ('running', 'interrupted') ORDER BY id DESC LIMIT 1")
      .get() as RunRow | undefined;
  }

  recentRuns(limit: number): RunRow[] {
    return this.statements.prepare('SELECT * FROM hotfix_runs ORDER BY id DESC LIMIT ?').all(limit) as RunRow[];
  }

  targets(runId: number): TargetRow[] {
    return this.statements.prepare('SELECT * FROM hotfix_targets WHERE hotfix_run_id = ? ORDER BY server, instance').all(runId) as TargetRow[];
  }

  target(targetId: number): TargetRow {
    return this.statements.prepare('SELECT * FROM hotfix_targets WHERE id = ?').get(targetId) as TargetRow;
  }

  steps(runId: number): StepRow[] {
    return this.statements
      .prepare(
        `SELECT s.* FROM hotfix_steps s JOIN hotfix_targets t ON t.id = s.hotfix_target_id
         WHERE t.hotfix_run_id = ? ORDER BY t.server, s.host_step_order, t.instance`,
      )
      .all(runId) as StepRow[];
  }

  /**
   * The typical duration of each installer file (lower-case name → milliseconds): the median of its
   * successful executions in recent runs, for ordering hosts longest-first.
   */
  typicalInstallerDurations(): Map<string, number> {
    const rows = this.db
      .prepare(
        `SELECT lower(installer_file) AS installer, duration_ms FROM hotfix_steps
         WHERE status = 'success' AND duration_ms IS NOT NULL ORDER BY id DESC LIMIT 5000`,
      )
      .all() as { installer: string; duration_ms: number }[];
    const byInstaller = new Map<string, number[]>();
    for (const row of rows) {
      const durations = byInstaller.get(row.installer);
      if (durations) durations.push(row.duration_ms);
      else byInstaller.set(row.installer, [row.duration_ms]);
    }
    return new Map(
      [...byInstaller.entries()].map(([installer, durations]) => {
        durations.sort((a, b) => a - b);
        return [installer, durations[Math.floor(durations.length / 2)]!];
      }),
    );
  }

  /**
   * Past installer executions that succeeded, newest first: one sample per execution (its steps
   * share the duration), with the number of instances it served. The predictions' raw material.
   */
  durationSamples(limit = 20_000): DurationSample[] {
    const rows = this.statements
      .prepare(
        `SELECT t.server AS server, s.installer_file AS installer, COUNT(*) AS instances, MAX(s.duration_ms) AS durationMs
         FROM hotfix_steps s JOIN hotfix_targets t ON t.id = s.hotfix_target_id
         WHERE s.status = 'success' AND s.duration_ms IS NOT NULL
         GROUP BY s.execution_id ORDER BY MAX(s.id) DESC LIMIT ?`,
      )
      .all(limit) as DurationSample[];
    return rows;
  }

  /** Records an installer staged on a host (copied, or found there with the same hash). */
  recordStagedFile(runId: number, file: { server: string; installer: string; remotePath: string; sha256: string; signature: string | null; copied: boolean }): void {
    this.statements
      .prepare(
        `INSERT INTO hotfix_staged_files (hotfix_run_id, server, installer_file, remote_path, sha256, signature, copied, staged_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(runId, file.server, file.installer, file.remotePath, file.sha256.toLowerCase(), file.signature, file.copied ? 1 : 0, this.now());
  }

  /** The latest run (other than `exceptRun`) that put this file on this host, for the operator's message. */
  lastStagingOf(server: string, sha256: string, exceptRun: number): { runId: number; mode: RunMode; stagedAt: string } | undefined {
    const row = this.statements
      .prepare(
        `SELECT f.hotfix_run_id AS runId, r.mode AS mode, f.staged_at AS stagedAt FROM hotfix_staged_files f JOIN hotfix_runs r ON r.id = f.hotfix_run_id
         WHERE f.server = ? AND f.sha256 = ? AND f.hotfix_run_id <> ? ORDER BY f.id DESC LIMIT 1`,
      )
      .get(server, sha256.toLowerCase(), exceptRun) as { runId: number; mode: RunMode; stagedAt: string } | undefined;
    return row;
  }

  waves(runId: number): WaveRow[] {
    return this.statements.prepare('SELECT * FROM hotfix_waves WHERE hotfix_run_id = ? ORDER BY position').all(runId) as WaveRow[];
  }

  /** One guarded transition of a wave's gate, with its event. */
  waveTransition(
    runId: number,
    position: number,
    change: { from: readonly WaveStatus[]; to: WaveStatus; hostsFailed?: number; reason?: string | null },
    event: { level: EventLevel; kind: string; message: string },
  ): void {
    this.transition(
      () => {
        const now = this.now();
        const placeholders = change.from.map(() => '?').join(', ');
        const changes = this.statements
          .prepare(
            `UPDATE hotfix_waves SET status = ?,
               started_at = CASE WHEN ? = 'running' THEN COALESCE(started_at, ?) ELSE started_at END,
               soak_started_at = CASE WHEN ? = 'soaking' THEN ? ELSE soak_started_at END,
               decided_at = CASE WHEN ? IN ('passed', 'halted', 'overridden') THEN ? ELSE decided_at END,
               hosts_failed = COALESCE(?, hosts_failed), reason = COALESCE(?, reason)
             WHERE hotfix_run_id = ? AND position = ? AND status IN (${placeholders})`,
          )
          .run(change.to, change.to, now, change.to, now, change.to, now, change.hostsFailed ?? null, change.reason ?? null, runId, position, ...change.from).changes;
        if (changes !== 1) throw new TransitionConflictError(`wave ${position} of run ${runId} to ${change.to}: it was not ${change.from.join(' or ')}`);
      },
      { runId, ...event },
    );
  }

  /**
   * The maintenance window leaves too little time for a host's work: its unfinished targets are
   * skipped with the reason and the time they would have needed, and so are their pending steps.
   */
  deferHost(runId: number, server: string, reason: string, neededMs: number): void {
    this.transition(
      () => {
        const now = this.now();
        const targets = this.statements
          .prepare("SELECT id FROM hotfix_targets WHERE hotfix_run_id = ? AND server = ? AND status IN ('pending', 'in_progress')")
          .all(runId, server) as { id: number }[];
        for (const { id } of targets) {
          this.statements
            .prepare("UPDATE hotfix_steps SET status = 'skipped', error_message = ?, completed_at = ? WHERE hotfix_target_id = ? AND status = 'pending'")
            .run(reason, now, id);
          const changes = this.statements
            .prepare(
              "UPDATE hotfix_targets SET status = 'skipped', requires_restart = 0, error_message = ?, deferred_ms = ?, completed_at = ? WHERE id = ? AND status IN ('pending', 'in_progress')",
            )
            .run(reason, Math.round(neededMs), now, id).changes;
          this.expectChanged(changes, 1, `target ${id} to skipped (deferred)`);
        }
      },
      { runId, server, level: 'warn', kind: 'window_deferred', message: reason },
    );
  }

  /** A stage-only run: the execution's steps end skipped, their installer staged and verified but not run. */
  stepsStagedOnly(runId: number, stepIds: readonly number[], server: string, message: string): void {
    this.transition(
      () => {
        const stmt = this.statements.prepare("UPDATE hotfix_steps SET status = 'skipped', error_message = ?, completed_at = ? WHERE id = ? AND status = 'pending'");
        const now = this.now();
        for (const id of stepIds) this.expectChanged(stmt.run(message, now, id).changes, 1, `step ${id} to skipped (staged only)`);
      },
      { runId, server, level: 'info', kind: 'staged_only', message },
    );
  }

  events(runId: number): EventRow[] {
    return this.statements.prepare('SELECT * FROM hotfix_events WHERE hotfix_run_id = ? ORDER BY id').all(runId) as EventRow[];
  }

  // ─── transitions ────────────────────────────────────────────────────────────────────────────

  private transition(apply: () => void, event: NewEvent): void {
    this.write(() => {
      apply();
      this.insertEvent(event);
    });
    this.tell(event);
  }

  private expectChanged(changes: number, expected: number, what: string): void {
    if (changes !== expected) throw new TransitionConflictError(`${what}: expected ${expected} row(s) to change, ${changes} did`);
  }

  /**
   * Records instances patched alongside the planned ones as targets of the run (`patched_alongside`),
   * in progress, with a step in each execution that patches them, so that they are checked, verified
   * and reported like the planned ones. An instance already among the run's targets is left out.
   * Returns the ids of the targets recorded.
   */
  recordAlongside(runId: number, server: string, transport: { transport: string; port: number | undefined; credential: string | undefined }, instances: readonly AlongsideInstance[]): number[] {
    const ids: number[] = [];
    const events: NewEvent[] = [];
    this.write(() => {
      const now = this.now();
      for (const found of instances) {
        const known = this.statements.prepare('SELECT id FROM servers WHERE server = ? AND instance = ?').get(server, found.instance) as { id: number } | undefined;
        // Not made an active target: the targets file decides what is planned; this instance is only seen.
        const serverId =
          known?.id ??
          Number(
            this.statements
              .prepare(
                `INSERT INTO servers (server, instance, port, transport, credential, version, edition, version_family, is_active, source, created_at, last_seen_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 'patched_alongside', ?, ?)`,
              )
              .run(server, found.instance, transport.port ?? null, transport.transport, transport.credential ?? null, found.preBuild, found.edition, found.family, now, now).lastInsertRowid,
          );
        if (this.statements.prepare('SELECT 1 FROM hotfix_targets WHERE hotfix_run_id = ? AND server_id = ?').get(runId, serverId)) continue;
        const targetId = Number(
          this.statements
            .prepare(
              `INSERT INTO hotfix_targets (hotfix_run_id, server_id, server, instance, version_family, edition, plan_status, pre_build, target_build,
                 status, requires_restart, reached, message, started_at, patched_alongside)
               VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, 'in_progress', 0, 1, ?, ?, 1)`,
            )
            .run(
              runId,
              serverId,
              server,
              found.instance,
              found.family,
              found.edition,
              found.preBuild,
              found.targetBuild,
              'patched alongside: no target names it, and setup runs with /AllInstances',
              now,
            ).lastInsertRowid,
        );
        found.steps.forEach((step, index) => {
          this.statements
            .prepare(
              `INSERT INTO hotfix_steps (hotfix_target_id, step_order, host_step_order, installer_file, installer_path, parameters,
                 sha256, description, required, execution_id, status, expected_minutes)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)`,
            )
            .run(
              targetId,
              index + 1,
              step.host_step_order,
              step.installer_file,
              step.installer_path,
              step.parameters,
              step.sha256,
              step.description,
              step.required,
              step.execution_id,
              step.expected_minutes ?? null,
            );
        });
        events.push({
          runId,
          targetId,
          server,
          level: 'warn',
          kind: 'patched_alongside',
          message: `${server}\\${found.instance}: no target names it, but setup runs with /AllInstances and will patch it too (build ${found.preBuild}, family ${found.family}): checked by pre-flight and verified afterwards as patched alongside`,
        });
        ids.push(targetId);
      }
      for (const event of events) this.insertEvent(event);
    });
    for (const event of events) this.tell(event);
    return ids;
  }

  targetStarted(runId: number, targetIds: readonly number[], server: string): void {
    this.transition(
      () => {
        const now = this.now();
        const stmt = this.statements.prepare("UPDATE hotfix_targets SET status = 'in_progress', started_at = COALESCE(started_at, ?) WHERE id = ? AND status IN ('pending', 'in_progress')");
        for (const id of targetIds) this.expectChanged(stmt.run(now, id).changes, 1, `target ${id} to in_progress`);
      },
      { runId, server, level: 'info', kind: 'host_started', message: `${server}: started (${targetIds.length} target(s))` },
    );
  }

  /**
   * The host is not patched (unreachable, or a pre-flight reason): its unfinished targets are skipped
   * with the reason, and their steps too.
   */
  skipHost(
    runId: number,
    targetIds: readonly number[],
    server: string,
    reason: string,
    how: { reached: boolean | null; kind: string; error?: unknown },
  ): void {
    this.transition(
      () => {
        const now = this.now();
        for (const id of targetIds) {
          this.statements
            .prepare("UPDATE hotfix_steps SET status = 'skipped', error_message = ?, completed_at = ? WHERE hotfix_target_id = ? AND status = 'pending'")
            .run(reason, now, id);
          const changes = this.statements
            .prepare(
              "UPDATE hotfix_targets SET status = 'skipped', reached = COALESCE(?, reached), requires_restart = 0, error_message = ?, completed_at = ? WHERE id = ? AND status IN ('pending', 'in_progress')",
            )
            .run(how.reached === null ? null : how.reached ? 1 : 0, reason, now, id).changes;
          this.expectChanged(changes, 1, `target ${id} to skipped`);
        }
      },
      { runId, server, level: 'error', kind: how.kind, message: reason, error: how.error },
    );
  }

  hostReached(targetIds: readonly number[]): void {
    const stmt = this.statements.prepare('UPDATE hotfix_targets SET reached = 1 WHERE id = ?');
    this.write(() => {
      for (const id of targetIds) stmt.run(id);
    });
  }

  /** Marks the steps of one execution running: the last write before the installer is started. */
  stepsRunning(runId: number, stepIds: readonly number[], server: string, message: string): void {
    this.transition(
      () => {
        const stmt = this.statements.prepare(
          `UPDATE hotfix_steps SET status = 'running', started_at = ?, completed_at = NULL
           WHERE id = ? AND status IN ('pending', 'interrupted')`,
        );
        const now = this.now();
        for (const id of stepIds) this.expectChanged(stmt.run(now, id).changes, 1, `step ${id} to running`);
      },
      { runId, server, level: 'info', kind: 'step_running', message },
    );
  }

  stepsFinished(
    runId: number,
    stepIds: readonly number[],
    server: string,
    result: {
      status: 'success' | 'failed';
      exitCode: number | null;
      exitMeaning: string | null;
      durationMs: number | null;
      output: string | null;
      error: string | null;
      startedAt?: string | undefined;
      completedAt?: string | undefined;
      /** Setup's Summary.txt of this execution: its "Final result" and "Exit code (Decimal)", when read. */
      setupVerdict?: { finalResult: string | null; exitCode: number | null; summaryPath: string | null } | null | undefined;
    },
    level: EventLevel,
    message: string,
    error?: unknown,
  ): void {
    this.transition(
      () => {
        const stmt = this.statements.prepare(
          `UPDATE hotfix_steps SET status = ?, completed_at = ?, started_at = COALESCE(?, started_at), exit_code = ?, exit_meaning = ?,
             duration_ms = ?, output = ?, error_message = ?
           WHERE id = ? AND status IN ('running', 'interrupted')`,
        );
        const completedAt = result.completedAt ?? this.now();
        for (const id of stepIds) {
          const changes = stmt.run(
            result.status,
            completedAt,
            result.startedAt ?? null,
            result.exitCode,
            result.exitMeaning,
            result.durationMs,
            result.output,
            result.error,
            id,
          ).changes;
          this.expectChanged(changes, 1, `step ${id} to ${result.status}`);
        }
        if (result.setupVerdict && stepIds.length > 0) {
          // The verdict belongs to the execution the steps record.
          const { execution_id: executionId } = this.statements.prepare('SELECT execution_id FROM hotfix_steps WHERE id = ?').get(stepIds[0]) as { execution_id: string };
          this.statements
            .prepare('INSERT OR REPLACE INTO hotfix_setup_verdicts (execution_id, final_result, exit_code, summary_path, recorded_at) VALUES (?, ?, ?, ?, ?)')
            .run(executionId, result.setupVerdict.finalResult, result.setupVerdict.exitCode, result.setupVerdict.summaryPath, this.now());
        }
      },
      { runId, server, level, kind: `step_${result.status}`, message, error },
    );
  }

  /** The wait was given up (second Ctrl+C, lost connection); the installer may still run on the target. */
  stepsInterrupted(runId: number, stepIds: readonly number[], server: string, message: string, error?: unknown): void {
    this.transition(
      () => {
        const stmt = this.statements.prepare("UPDATE hotfix_steps SET status = 'interrupted' WHERE id = ? AND status = 'running'");
        for (const id of stepIds) stmt.run(id);
      },
      { runId, server, level: 'warn', kind: 'step_interrupted', message, error },
    );
  }

  stepsSkipped(runId: number, stepIds: readonly number[], server: string, reason: string): void {
    if (stepIds.length === 0) return;
    this.transition(
      () => {
        const stmt = this.statements.prepare("UPDATE hotfix_steps SET status = 'skipped', error_message = ?, completed_at = ? WHERE id = ? AND status = 'pending'");
        const now = this.now();
        for (const id of stepIds) this.expectChanged(stmt.run(reason, now, id).changes, 1, `step ${id} to skipped`);
      },
      { runId, server, level: 'warn', kind: 'steps_skipped', message: `${server}: ${stepIds.length} step(s) skipped: ${reason}` },
    );
  }

  targetFinished(
    runId: number,
    targetId: number,
    server: string,
    result: { status: 'success' | 'partial' | 'failed' | 'skipped'; postBuild: string | null; requiresRestart: boolean; error: string | null },
    level: EventLevel,
    message: string,
  ): void {
    this.transition(
      () => {
        const changes = this.statements
          .prepare(
            `UPDATE hotfix_targets SET status = ?, post_build = COALESCE(?, post_build), requires_restart = ?, error_message = ?, completed_at = ?
             WHERE id = ? AND status IN ('pending', 'in_progress')`,
          )
          .run(result.status, result.postBuild, result.requiresRestart ? 1 : 0, result.error, this.now(), targetId).changes;
        this.expectChanged(changes, 1, `target ${targetId} to ${result.status}`);
        if (result.postBuild !== null) {
          // The build the post-check read is the newest known: `--hotfix-plan --offline` plans from it.
          this.statements
            .prepare('UPDATE servers SET version = ?, last_seen_at = ? WHERE id = (SELECT server_id FROM hotfix_targets WHERE id = ?)')
            .run(result.postBuild, this.now(), targetId);
        }
      },
      { runId, targetId, server, level, kind: `target_${result.status}`, message },
    );
  }

  /** How many of a run's targets and steps are not final yet; a run with any is not finished. */
  unfinishedWork(runId: number): { targets: number; steps: number } {
    return this.statements
      .prepare(
        `SELECT (SELECT count(*) FROM hotfix_targets WHERE hotfix_run_id = ? AND status IN ('pending', 'in_progress')) AS targets,
                (SELECT count(*) FROM hotfix_steps s JOIN hotfix_targets t ON t.id = s.hotfix_target_id
                   WHERE t.hotfix_run_id = ? AND s.status IN ('pending', 'running', 'interrupted')) AS steps`,
      )
      .get(runId, runId) as { targets: number; steps: number };
  }

  /**
   * Closes this process's part of a run. `succeeded`/`failed` are refused (TransitionConflictError)
   * while any target or step is unfinished; migration 0002's trigger refuses it too.
   */
  /**
   * A wave halted the run: the targets of later waves, never started, end skipped with the halt's
   * reason (their steps and actions too). Idempotent: only targets still pending are touched.
   */
  skipHeldBack(runId: number, afterPosition: number, reason: string): void {
    const held = this.statements
      .prepare("SELECT id, server FROM hotfix_targets WHERE hotfix_run_id = ? AND wave > ? AND status = 'pending'")
      .all(runId, afterPosition) as { id: number; server: string }[];
    if (held.length === 0) return;
    this.transition(
      () => {
        const now = this.now();
        for (const { id, server } of held) {
          this.statements
            .prepare("UPDATE hotfix_steps SET status = 'skipped', error_message = ?, completed_at = ? WHERE hotfix_target_id = ? AND status = 'pending'")
            .run(reason, now, id);
          const changes = this.statements
            .prepare("UPDATE hotfix_targets SET status = 'skipped', error_message = ?, completed_at = ? WHERE id = ? AND status = 'pending'")
            .run(reason, now, id).changes;
          this.expectChanged(changes, 1, `target ${id} to skipped (held back by a halt)`);
          this.statements
            .prepare("UPDATE hotfix_actions SET status = 'skipped', error_message = ?, completed_at = ? WHERE hotfix_run_id = ? AND server = ? AND kind <> 'install' AND status = 'pending'")
            .run(reason, now, runId, server);
        }
      },
      { runId, level: 'warn', kind: 'held_back', message: `${held.length} target(s) of later waves not started: ${reason}` },
    );
  }

  runFinished(runId: number, status: RunStatus, exitCode: number, message: string): void {
    this.transition(
      () => {
        if (status === 'succeeded' || status === 'failed') {
          const left = this.unfinishedWork(runId);
          if (left.targets > 0 || left.steps > 0) {
            throw new TransitionConflictError(`run ${runId} to ${status}: ${left.targets} target(s) and ${left.steps} step(s) are unfinished`);
          }
        }
        const finished = status === 'interrupted' || status === 'running' ? null : this.now();
        const changes = this.statements
          .prepare("UPDATE hotfix_runs SET status = ?, finished_at = ?, exit_code = ? WHERE id = ? AND status = 'running'")
          .run(status, finished, exitCode, runId).changes;
        this.expectChanged(changes, 1, `run ${runId} to ${status}`);
      },
      { runId, level: status === 'succeeded' ? 'info' : 'warn', kind: `run_${status}`, message },
    );
  }

  /** How to reach a target's host, as recorded in `servers` when the run was created. */
  connectionOf(serverId: number): { transport: string | null; port: number | null; credential: string | null } {
    return this.statements.prepare('SELECT transport, port, credential FROM servers WHERE id = ?').get(serverId) as {
      transport: string | null;
      port: number | null;
      credential: string | null;
    };
  }

  /** Notes why unfinished targets are not done yet (a lost connection), without changing their status. */
  noteTargetErrors(targetIds: readonly number[], message: string): void {
    const stmt = this.statements.prepare('UPDATE hotfix_targets SET error_message = ? WHERE id = ?');
    this.write(() => {
      for (const id of targetIds) stmt.run(message, id);
    });
  }

  /** A resumed run is running again. */
  runResumed(runId: number, message: string): void {
    this.transition(
      () => {
        const changes = this.statements
          .prepare("UPDATE hotfix_runs SET status = 'running', finished_at = NULL, exit_code = NULL WHERE id = ? AND status IN ('running', 'interrupted')")
          .run(runId).changes;
        this.expectChanged(changes, 1, `run ${runId} to running again`);
      },
      { runId, level: 'info', kind: 'run_resumed', message },
    );
  }

  // ─── the run graph ──────────────────────────────────────────────────────────────────────────

  /**
   * Records a run's graph, in order (each action's dependencies come before it), in one transaction.
   * Returns false and records nothing when the run already has its graph.
   */
  recordGraph(runId: number, actions: readonly NewAction[]): boolean {
    const recorded = this.write(() => {
        const existing = this.statements.prepare('SELECT COUNT(*) AS n FROM hotfix_actions WHERE hotfix_run_id = ?').get(runId) as { n: number };
        if (existing.n > 0) return false;
        const insert = this.statements.prepare(
          `INSERT INTO hotfix_actions (hotfix_run_id, server, instance, kind, seq, execution_id, status, reason, detail)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        );
        const insertDep = this.statements.prepare('INSERT INTO hotfix_action_deps (action_id, depends_on) VALUES (?, ?)');
        const ids = new Map<string, number>();
        for (const [index, action] of actions.entries()) {
          if (ids.has(action.key)) throw new Error(`run graph: two actions share the key ${action.key}`);
          const install = action.kind === 'install';
          const id = Number(
            insert.run(
              runId,
              action.server,
              action.instance ?? null,
              action.kind,
              index + 1,
              install ? (action.executionId ?? null) : null,
              install ? null : (action.status ?? 'pending'),
              action.reason ?? null,
              JSON.stringify(action.detail ?? {}),
            ).lastInsertRowid,
          );
          ids.set(action.key, id);
          for (const dep of action.dependsOn) {
            const depId = ids.get(dep);
            if (depId === undefined) throw new Error(`run graph: ${action.key} depends on ${dep}, which is not recorded before it`);
            insertDep.run(id, depId);
          }
        }
        return true;
      });
    if (recorded) this.addEvent({ runId, level: 'debug', kind: 'graph_recorded', message: `run ${runId}: ${actions.length} action(s) recorded` });
    return recorded;
  }

  /** The run's actions in graph order; an install action's status is its steps'. */
  actions(runId: number): ActionRow[] {
    return this.statements
      .prepare(
        `SELECT a.id, a.hotfix_run_id, a.server, a.instance, a.kind, a.seq, a.execution_id,
           COALESCE(a.status, (SELECT s.status FROM hotfix_steps s WHERE s.execution_id = a.execution_id ORDER BY s.id LIMIT 1)) AS status,
           a.reason, a.detail, a.started_at, a.completed_at, a.error_message
         FROM hotfix_actions a WHERE a.hotfix_run_id = ? ORDER BY a.seq`,
      )
      .all(runId) as ActionRow[];
  }

  /** One host's actions in a run, in graph order. */
  actionsOfHost(runId: number, server: string): ActionRow[] {
    return this.statements
      .prepare(
        `SELECT a.id, a.hotfix_run_id, a.server, a.instance, a.kind, a.seq, a.execution_id,
           COALESCE(a.status, (SELECT s.status FROM hotfix_steps s WHERE s.execution_id = a.execution_id ORDER BY s.id LIMIT 1)) AS status,
           a.reason, a.detail, a.started_at, a.completed_at, a.error_message
         FROM hotfix_actions a WHERE a.hotfix_run_id = ? AND a.server = ? ORDER BY a.seq`,
      )
      .all(runId, server) as ActionRow[];
  }

  action(actionId: number): ActionRow {
    return this.statements
      .prepare(
        `SELECT a.id, a.hotfix_run_id, a.server, a.instance, a.kind, a.seq, a.execution_id,
           COALESCE(a.status, (SELECT s.status FROM hotfix_steps s WHERE s.execution_id = a.execution_id ORDER BY s.id LIMIT 1)) AS status,
           a.reason, a.detail, a.started_at, a.completed_at, a.error_message
         FROM hotfix_actions a WHERE a.id = ?`,
      )
      .get(actionId) as ActionRow;
  }

  /** The steps of one installer execution, as they stand now. */
  stepsOfExecution(executionId: string): StepRow[] {
    return this.statements.prepare('SELECT * FROM hotfix_steps WHERE execution_id = ? ORDER BY id').all(executionId) as StepRow[];
  }

  /** Every target of one host in a run, as they stand now. */
  targetsOfHost(runId: number, server: string): TargetRow[] {
    return this.statements
      .prepare('SELECT * FROM hotfix_targets WHERE hotfix_run_id = ? AND server = ? COLLATE NOCASE ORDER BY instance')
      .all(runId, server) as TargetRow[];
  }

  actionDependencies(runId: number): ActionDependency[] {
    return this.statements
      .prepare('SELECT d.action_id, d.depends_on FROM hotfix_action_deps d JOIN hotfix_actions a ON a.id = d.action_id WHERE a.hotfix_run_id = ? ORDER BY a.seq, d.depends_on')
      .all(runId) as ActionDependency[];
  }

  /**
   * Moves one action (not an install: its steps carry its state) from one of `from` to `to`, with its
   * event, in one guarded statement. `detail` is merged into the action's JSON facts. Zero rows changed
   * is a TransitionConflictError.
   */
  actionTransition(
    runId: number,
    actionId: number,
    change: {
      from: readonly ActionStatus[];
      to: ActionStatus;
      error?: string | null | undefined;
      detail?: Record<string, unknown> | undefined;
    },
    event: { server: string; level: EventLevel; kind: string; message: string; error?: unknown },
  ): void {
    this.transition(
      () => {
        const now = this.now();
        const starting = change.to === 'running';
        const final = change.to === 'success' || change.to === 'failed' || change.to === 'skipped';
        const changes = this.statements
          .prepare(
            `UPDATE hotfix_actions SET status = ?,
               started_at = CASE WHEN ? THEN COALESCE(started_at, ?) ELSE started_at END,
               completed_at = CASE WHEN ? THEN ? ELSE NULL END,
               error_message = COALESCE(?, error_message),
               detail = json_patch(detail, ?)
             WHERE id = ? AND kind <> 'install' AND status IN (SELECT value FROM json_each(?))`,
          )
          .run(
            change.to,
            starting ? 1 : 0,
            now,
            final ? 1 : 0,
            now,
            change.error ?? null,
            JSON.stringify(change.detail ?? {}),
            actionId,
            JSON.stringify(change.from),
          ).changes;
        this.expectChanged(changes, 1, `action ${actionId} from ${change.from.join('/')} to ${change.to}`);
      },
      { runId, ...event },
    );
  }

  /**
   * What a restart changed for a finished target: its build read again (kept when unreadable), the
   * restart it needed done, or a failure found after it (a host that did not come back, a build that
   * fell below the target). One guarded statement with its event.
   */
  targetAfterRestart(
    runId: number,
    targetId: number,
    server: string,
    change: { postBuild: string | null; restartDone: boolean; failure: string | null },
    level: EventLevel,
    message: string,
  ): void {
    this.transition(
      () => {
        const changes = this.statements
          .prepare(
            `UPDATE hotfix_targets SET post_build = COALESCE(?, post_build),
               requires_restart = CASE WHEN ? THEN 0 ELSE requires_restart END,
               status = CASE WHEN ? IS NULL THEN status ELSE 'failed' END,
               error_message = COALESCE(?, error_message),
               completed_at = COALESCE(completed_at, ?)
             WHERE id = ? AND status IN ('pending', 'in_progress', 'success', 'partial', 'failed')`,
          )
          .run(change.postBuild, change.restartDone ? 1 : 0, change.failure, change.failure, this.now(), targetId).changes;
        this.expectChanged(changes, 1, `target ${targetId} after its host's restart`);
      },
      { runId, targetId, server, level, kind: change.failure ? 'target_failed' : 'target_restarted', message },
    );
  }

  /** Closes a host's remaining actions (not installs) as skipped, with the reason: nothing more happens there in this run. */
  actionsSkippedOnHost(runId: number, server: string, reason: string): void {
    this.transition(
      () => {
        this.statements
          .prepare(
            `UPDATE hotfix_actions SET status = 'skipped', error_message = ?, completed_at = ?
             WHERE hotfix_run_id = ? AND server = ? AND kind <> 'install' AND status = 'pending'`,
          )
          .run(reason, this.now(), runId, server);
      },
      { runId, server, level: 'debug', kind: 'actions_skipped', message: `${server}: remaining actions skipped: ${reason}` },
    );
  }
}

/**
 * Names one installer execution on one host within a run; the target uses it to tell if it ran.
 * The readable part keeps the host name's safe characters; the hash of the whole (lower-case) name
 * keeps two hosts whose names differ only in other characters apart. At most 128 characters of
 * `[A-Za-z0-9._-]`, the rule the target side enforces.
 */
export function executionId(runId: number, server: string, hostStepOrder: number): string {
  const host = server.toLowerCase();
  const readable = host.replace(/[^a-z0-9.-]/g, '_').slice(0, 63);
  const hash = createHash('sha256').update(host, 'utf8').digest('hex').slice(0, 8);
  return `r${runId}-${readable}-${hash}-s${hostStepOrder}`;
}
