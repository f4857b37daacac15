import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from '../store/sqlite.js';
import type { LabInstallerBehaviour, TargetEntry } from '../config/schemas.js';
import { compareBuilds, parseBuild } from '../sqlserver/buildNumber.js';
import { type StatementCache, statements } from '../store/database.js';
import { familyOf } from '../sqlserver/family.js';
import { instanceFilter, parseLabInstaller } from './installerFile.js';
import { appendLabEvent, LAB_EVENTS_SCHEMA, type LabEvent, type LabEventRow, readLabEvents } from './labEvents.js';
import { LabTopology, TOPOLOGY_SCHEMA } from './topology.js';

/**
 * The lab: a persistent simulated fleet that stands in for Windows servers running SQL Server. It
 * lives in `<output>/lab/world.db` and is shared by every process that opens it, so an installer
 * started before the orchestrator died goes on and finishes in simulated time.
 *
 * Time is lazy: an execution's finish time is fixed when it starts, and whoever looks at the world
 * after that time applies its effect (settle). No process has to stay alive for it to finish.
 */

export interface LabHostRow {
  readonly server: string;
  readonly reachable: 0 | 1;
  readonly free_disk_gb: number;
  readonly pending_reboot: 0 | 1;
  readonly services_running: 0 | 1;
  readonly installer_busy: 0 | 1;
  /** JSON: installer file name → injected behaviour. */
  readonly installers: string;
  /** When the host last started (epoch ms): what Win32_OperatingSystem.LastBootUpTime says. */
  readonly boot_ms: number;
  /** Simulated seconds a restart takes until the host is back. */
  readonly restart_seconds: number;
  /** 0 for a host that never comes back from a restart. */
  readonly comes_back: 0 | 1;
  /** While the host restarts: when the restart began (epoch ms); null otherwise. */
  readonly restarting_since_ms: number | null;
  /** While the host restarts: when it will be back (epoch ms); null when it never will. */
  readonly back_at_ms: number | null;
  /** JSON {owner, writable_by} of the staging folder once it exists (the lab key, or created by the tool); null while absent. */
  readonly staging_folder: string | null;
  /** Defender's ASR rule for PSExec and WMI process creation: block, warn, audit, off; null when not configured. */
  readonly asr_wmi_rule: string | null;
}

/** The staging folder of a lab host: who owns it, and who besides SYSTEM and Administrators can write to it. */
export interface LabStagingFolder {
  readonly owner: string;
  readonly writable_by: readonly string[];
}

export interface LabInstanceRow {
  readonly server: string;
  readonly instance: string;
  readonly version: string | null;
  readonly edition: string | null;
  /** SQL Server Agent: `running`, `stopped`, or `absent` (Express has none). */
  readonly agent_state: AgentState;
  /** The database engine service: `running` or `stopped`. */
  readonly engine_state: EngineState;
  /** Why the instance is broken (an installer killed inside a Windows Installer transaction); null when whole. */
  readonly broken: string | null;
}

export type AgentState = 'running' | 'stopped' | 'absent';
export type EngineState = 'running' | 'stopped';

/** One installer execution: a row of the lab's execution log. */
export interface LabExecutionRow {
  readonly id: number;
  readonly execution_id: string;
  readonly server: string;
  readonly installer: string;
  readonly parameters: string;
  /** Real UTC time, ISO-8601 with milliseconds. */
  readonly started_at: string;
  /** Null while the installer runs. */
  readonly finished_at: string | null;
  readonly exit_code: number | null;
  /** Epoch milliseconds at which it will finish; null when it hangs. */
  readonly planned_finish_ms: number | null;
  readonly planned_exit_code: number;
  /** Effect to apply on finish: JSON {family, sets_build, instance} or null for none. */
  readonly effect: string | null;
  /** 1 when stopped from outside (timeout) rather than finished. */
  readonly killed: 0 | 1;
  /** 1 when the installer is inside a Windows Installer transaction for its whole run. */
  readonly msi_transaction: 0 | 1;
  /** What it would patch (JSON {family, sets_build, instance}), whatever its exit code; null when it is no lab installer. */
  readonly scope: string | null;
  /** How the wrapper was started: scheduled_task or wmi (null over the SSH test bed, whose surfaces start it). */
  readonly started_by: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS lab_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lab_hosts (
  server TEXT PRIMARY KEY COLLATE NOCASE, reachable INTEGER NOT NULL, free_disk_gb REAL NOT NULL,
  pending_reboot INTEGER NOT NULL, services_running INTEGER NOT NULL, installer_busy INTEGER NOT NULL, installers TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lab_instances (
  server TEXT NOT NULL COLLATE NOCASE, instance TEXT NOT NULL COLLATE NOCASE, version TEXT, edition TEXT,
  PRIMARY KEY (server, instance));
CREATE TABLE IF NOT EXISTS lab_files (
  server TEXT NOT NULL COLLATE NOCASE, path TEXT NOT NULL COLLATE NOCASE, content BLOB NOT NULL, sha256 TEXT NOT NULL,
  PRIMARY KEY (server, path));
CREATE TABLE IF NOT EXISTS lab_installer_runs (
  server TEXT NOT NULL COLLATE NOCASE, installer TEXT NOT NULL COLLATE NOCASE, executions INTEGER NOT NULL,
  PRIMARY KEY (server, installer));
CREATE TABLE IF NOT EXISTS lab_executions (
  id INTEGER PRIMARY KEY, execution_id TEXT NOT NULL, server TEXT NOT NULL COLLATE NOCASE, installer TEXT NOT NULL,
  parameters TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, exit_code INTEGER,
  planned_finish_ms INTEGER, planned_exit_code INTEGER NOT NULL, effect TEXT, killed INTEGER NOT NULL DEFAULT 0,
  UNIQUE (server, execution_id));
-- Folders setup packages were extracted into (/x:) under the staging root; removed_at null while on disk.
CREATE TABLE IF NOT EXISTS lab_extractions (
  id INTEGER PRIMARY KEY, server TEXT NOT NULL COLLATE NOCASE, execution_id TEXT NOT NULL, path TEXT NOT NULL,
  created_at TEXT NOT NULL, removed_at TEXT);
-- settle() looks for unfinished executions whose time has come on every look at the world; without
-- this index that is a scan of every execution ever run.
CREATE INDEX IF NOT EXISTS lab_executions_unfinished ON lab_executions (planned_finish_ms) WHERE finished_at IS NULL;
${LAB_EVENTS_SCHEMA}`;

/** Columns added after the first lab worlds were written: added to an older world.db on open. */
const ADDED_COLUMNS: readonly { table: string; column: string; definition: string }[] = [
  { table: 'lab_instances', column: 'agent_state', definition: "TEXT NOT NULL DEFAULT 'running'" },
  { table: 'lab_instances', column: 'engine_state', definition: "TEXT NOT NULL DEFAULT 'running'" },
  { table: 'lab_instances', column: 'broken', definition: 'TEXT' },
  { table: 'lab_executions', column: 'msi_transaction', definition: 'INTEGER NOT NULL DEFAULT 0' },
  { table: 'lab_executions', column: 'scope', definition: 'TEXT' },
  { table: 'lab_hosts', column: 'boot_ms', definition: 'INTEGER NOT NULL DEFAULT 0' },
  { table: 'lab_hosts', column: 'restart_seconds', definition: `REAL NOT NULL DEFAULT 120` },
  { table: 'lab_hosts', column: 'comes_back', definition: 'INTEGER NOT NULL DEFAULT 1' },
  { table: 'lab_hosts', column: 'restarting_since_ms', definition: 'INTEGER' },
  { table: 'lab_hosts', column: 'back_at_ms', definition: 'INTEGER' },
  { table: 'lab_hosts', column: 'staging_folder', definition: 'TEXT' },
  { table: 'lab_hosts', column: 'asr_wmi_rule', definition: 'TEXT' },
  { table: 'lab_executions', column: 'started_by', definition: 'TEXT' },
];

// Windows error for a file that is not a program (a corrupted installer): ERROR_BAD_EXE_FORMAT.
const EXIT_BAD_EXE_FORMAT = 193;
// Windows Installer refuses a second installation while one runs: ERROR_INSTALL_ALREADY_RUNNING.
const EXIT_INSTALL_ALREADY_RUNNING = 1618;
// SQL setup when no instance on the host is below the patch level.
const EXIT_NOTHING_TO_PATCH = -2068643838;
const EXIT_FILE_NOT_FOUND = 2;

const DEFAULT_FREE_DISK_GB = 100;
const DEFAULT_INSTALL_SECONDS = 60;
const DEFAULT_RESTART_SECONDS = 120;
// A lab host was last started a day before the world was made.
const UPTIME_AT_SEED_MS = 24 * 3600_000;

export interface LabOptions {
  /** Simulated seconds × timeScale = real seconds. */
  readonly timeScale: number;
  readonly clock?: (() => number) | undefined;
}

export class LabWorld {
  private readonly clock: () => number;
  private readonly statements: StatementCache;
  /** Availability groups and failover cluster instances, and the lab_events of their changes. */
  readonly topology: LabTopology;

  private constructor(
    readonly db: Database.Database,
    readonly dbFile: string,
    readonly timeScale: number,
    clock: (() => number) | undefined,
  ) {
    this.clock = clock ?? Date.now;
    this.statements = statements(db);
    this.topology = new LabTopology(db, this.statements, timeScale, this.clock);
  }

  static pathFor(outputDir: string): string {
    return path.join(outputDir, 'lab', 'world.db');
  }

  /**
   * Opens the world, creating it on first use; hosts and instances of `targets` (the simulated ones)
   * that are new to it are added, and those it has keep their state.
   */
  static open(file: string, targets: readonly TargetEntry[], options: LabOptions): LabWorld {
    mkdirSync(path.dirname(file), { recursive: true });
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode survives a killed process, which is what the lab simulates; FULL would
    // add a disk flush to every one of the many small transactions of a large run.
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 10000');
    db.exec(SCHEMA);
    addMissingColumns(db);
    db.exec(TOPOLOGY_SCHEMA);
    const world = new LabWorld(db, file, options.timeScale, options.clock);
    world.seed(targets);
    return world;
  }

  static reset(file: string): void {
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
  }

  close(): void {
    this.db.close();
  }

  private seed(targets: readonly TargetEntry[]): void {
    const insertHost = this.statements.prepare(
      `INSERT OR IGNORE INTO lab_hosts (server, reachable, free_disk_gb, pending_reboot, services_running, installer_busy, installers,
         boot_ms, restart_seconds, comes_back, staging_folder, asr_wmi_rule)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insertInstance = this.statements.prepare(
      'INSERT OR IGNORE INTO lab_instances (server, instance, version, edition, agent_state, engine_state) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.db
      .transaction(() => {
        // Host settings may stand on any of the host's targets; the loader checked that they agree.
        const hosts = new Map<string, { server: string; sim: NonNullable<TargetEntry['simulation']> }>();
        for (const t of targets) {
          const key = t.server.toLowerCase();
          const merged = { ...(hosts.get(key)?.sim ?? {}), ...(t.simulation ?? {}) };
          hosts.set(key, { server: t.server, sim: merged });
          insertInstance.run(
            t.server,
            t.instance,
            t.simulation?.version ?? t.version ?? null,
            t.simulation?.edition ?? t.edition ?? null,
            t.simulation?.agent_state ?? 'running',
            t.simulation?.engine_state ?? 'running',
          );
        }
        // A failover cluster instance's setup runs on each node: the nodes are hosts with the
        // instance installed, taking their host settings from the FCI's target.
        for (const t of targets) {
          for (const node of t.simulation?.failover_cluster?.nodes ?? []) {
            const key = node.toLowerCase();
            if (!hosts.has(key)) hosts.set(key, { server: node, sim: { ...t.simulation, version: undefined, edition: undefined } });
            insertInstance.run(
              node,
              t.instance,
              t.simulation?.version ?? t.version ?? null,
              t.simulation?.edition ?? t.edition ?? null,
              t.simulation?.agent_state ?? 'running',
              t.simulation?.engine_state ?? 'running',
            );
          }
        }
        for (const { server, sim } of hosts.values()) {
          // Instances on the host that no target names: discovery sees them, /AllInstances patches them.
          for (const unlisted of sim.unlisted_instances ?? []) {
            insertInstance.run(server, unlisted.instance, unlisted.version, unlisted.edition ?? null, unlisted.agent_state ?? 'running', unlisted.engine_state ?? 'running');
          }
          insertHost.run(
            server,
            sim.reachable === false ? 0 : 1,
            sim.free_disk_gb ?? DEFAULT_FREE_DISK_GB,
            sim.pending_reboot ? 1 : 0,
            sim.services_running === false ? 0 : 1,
            sim.installer_busy ? 1 : 0,
            JSON.stringify(sim.installers ?? {}),
            this.clock() - UPTIME_AT_SEED_MS,
            sim.restart_seconds ?? DEFAULT_RESTART_SECONDS,
            sim.comes_back === false ? 0 : 1,
            sim.staging_folder ? JSON.stringify({ owner: sim.staging_folder.owner, writable_by: sim.staging_folder.writable_by }) : null,
            sim.asr_wmi_rule ?? null,
          );
        }
        this.topology.seed(targets);
      })
      .immediate();
  }

  private nowIso(): string {
    return new Date(this.clock()).toISOString();
  }

  /** Records a change of the world in `lab_events`, at the lab's clock; returns the event's id. */
  appendEvent(event: LabEvent): number {
    return appendLabEvent(this.db, event, this.clock());
  }

  /** The world's change log, oldest first; one host's when `server` is given. */
  events(server?: string): LabEventRow[] {
    this.settle();
    return readLabEvents(this.db, server);
  }

  /** The host as it is now; a host that is restarting does not answer (reachable 0). */
  host(server: string): LabHostRow | undefined {
    this.settleRestarts();
    const row = this.statements.prepare('SELECT * FROM lab_hosts WHERE server = ?').get(server) as LabHostRow | undefined;
    if (!row || row.restarting_since_ms === null) return row;
    return { ...row, reachable: 0 };
  }

  /** When the host last started, ISO-8601 UTC (Win32_OperatingSystem.LastBootUpTime). */
  bootTime(server: string): string | null {
    const row = this.host(server);
    return row ? new Date(row.boot_ms).toISOString() : null;
  }

  /**
   * Restarts a host, as `shutdown /r` would: it stops answering at once and is back after
   * `restart_seconds` (× time_scale) with a new boot time, its pending reboot cleared and its
   * services started; a host with `comes_back: false` never returns. A request while a restart is
   * under way changes nothing (Windows: a shutdown is already in progress). Returns false then.
   */
  requestRestart(server: string, comment: string): boolean {
    this.settleRestarts();
    return this.db
      .transaction(() => {
        const row = this.statements.prepare('SELECT * FROM lab_hosts WHERE server = ?').get(server) as LabHostRow | undefined;
        if (!row) throw new Error(`no lab host ${server}`);
        if (row.restarting_since_ms !== null) return false;
        const now = this.clock();
        const back = row.comes_back ? now + Math.round(row.restart_seconds * this.timeScale * 1000) : null;
        this.statements.prepare('UPDATE lab_hosts SET restarting_since_ms = ?, back_at_ms = ? WHERE server = ?').run(now, back, row.server);
        this.appendEvent({ server: row.server, kind: 'restart_begin', detail: { comment } });
        return true;
      })
      .immediate();
  }

  /** Brings back every host whose restart has taken its time. */
  private settleRestarts(): void {
    const now = this.clock();
    const due = this.statements
      .prepare('SELECT * FROM lab_hosts WHERE restarting_since_ms IS NOT NULL AND back_at_ms IS NOT NULL AND back_at_ms <= ?')
      .all(now) as LabHostRow[];
    if (due.length === 0) return;
    this.db
      .transaction(() => {
        for (const row of due) {
          const back = this.statements
            .prepare(
              `UPDATE lab_hosts SET boot_ms = back_at_ms, restarting_since_ms = NULL, back_at_ms = NULL, pending_reboot = 0, services_running = 1
               WHERE server = ? AND back_at_ms = ?`,
            )
            .run(row.server, row.back_at_ms);
          if (back.changes !== 1) continue;
          // Services set to start automatically come up with Windows.
          this.statements.prepare("UPDATE lab_instances SET engine_state = 'running' WHERE server = ?").run(row.server);
          appendLabEvent(this.db, { server: row.server, kind: 'restart_end', detail: { down_ms: row.back_at_ms! - row.restarting_since_ms! } }, row.back_at_ms!);
        }
      })
      .immediate();
  }

  /** The host's staging folder, or null while it does not exist. */
  stagingFolder(server: string): LabStagingFolder | null {
    const row = this.statements.prepare('SELECT staging_folder FROM lab_hosts WHERE server = ?').get(server) as { staging_folder: string | null } | undefined;
    return row?.staging_folder ? (JSON.parse(row.staging_folder) as LabStagingFolder) : null;
  }

  /**
   * Creates the host's staging folder as the tool does on Windows: owned by Administrators, writable
   * by SYSTEM and Administrators only. A folder already there is left as it is; returns whether one was made.
   */
  createStagingFolder(server: string, folderPath: string): boolean {
    return this.db
      .transaction(() => {
        const made = this.statements
          .prepare('UPDATE lab_hosts SET staging_folder = ? WHERE server = ? AND staging_folder IS NULL')
          .run(JSON.stringify({ owner: 'BUILTIN\\Administrators', writable_by: [] }), server);
        if (made.changes === 1) this.appendEvent({ server, kind: 'staging_folder_created', detail: { path: folderPath } });
        return made.changes === 1;
      })
      .immediate();
  }

  instances(server: string): LabInstanceRow[] {
    this.settle();
    const rows = this.statements.prepare('SELECT * FROM lab_instances WHERE server = ? ORDER BY instance').all(server) as LabInstanceRow[];
    // A failover cluster instance runs the binaries of the node that owns it.
    return rows.map((row) => {
      const fci = this.topology.fci(row.server, row.instance);
      if (!fci) return row;
      const onOwner = this.statements.prepare('SELECT version FROM lab_instances WHERE server = ? AND instance = ?').get(fci.owner, row.instance) as
        | { version: string | null }
        | undefined;
      return { ...row, version: onOwner?.version ?? row.version };
    });
  }

  /** True while an installer runs on the host. */
  installerRunning(server: string): boolean {
    return this.statements.prepare('SELECT 1 FROM lab_executions WHERE server = ? AND finished_at IS NULL').get(server) !== undefined;
  }

  /** Moves a failover cluster instance's role to another node (refused while setup runs there). */
  moveRole(server: string, instance: string, toNode: string): void {
    this.settle();
    this.db.transaction(() => this.topology.moveRole(server, instance, toNode, (node) => this.installerRunning(node))).immediate();
  }

  /** Sets a replica's failover mode, run on the instance `on` (SQL Server accepts it only on the primary). */
  setFailoverMode(on: { server: string; instance: string }, ag: string, replica: { server: string; instance: string }, mode: 'automatic' | 'manual'): void {
    this.settle();
    this.db.transaction(() => this.topology.setFailoverMode(on, ag, replica, mode)).immediate();
  }

  /** A planned failover of `ag` to the secondary `to`. */
  failover(ag: string, to: { server: string; instance: string }): void {
    this.settle();
    this.db.transaction(() => this.topology.failover(ag, to)).immediate();
  }

  /** Applies the effect of every execution whose finish time has passed. */
  settle(): void {
    const now = this.clock();
    const due = this.statements
      .prepare('SELECT * FROM lab_executions WHERE finished_at IS NULL AND planned_finish_ms IS NOT NULL AND planned_finish_ms <= ?')
      .all(now) as LabExecutionRow[];
    if (due.length > 0) {
      this.db
        .transaction(() => {
          for (const execution of due) {
            const finished = this.statements
              .prepare('UPDATE lab_executions SET finished_at = ?, exit_code = planned_exit_code WHERE id = ? AND finished_at IS NULL')
              .run(new Date(execution.planned_finish_ms!).toISOString(), execution.id);
            if (finished.changes === 1 && execution.effect) this.applyEffect(execution.server, JSON.parse(execution.effect) as Effect);
            // The wrapper removes the extraction folder once setup has ended.
            if (finished.changes === 1) this.removeExtraction(execution.server, execution.execution_id, 'setup ended', execution.planned_finish_ms!);
            if (finished.changes === 1 && !this.installerRunning(execution.server)) this.topology.instanceStarted(execution.server, execution.planned_finish_ms!);
          }
        })
        .immediate();
    }
    if (this.topology.resyncDue(now)) this.db.transaction(() => this.topology.settle(now)).immediate();
  }

  private applyEffect(server: string, effect: Effect): void {
    for (const instance of this.instancesToRaise(server, effect)) {
      this.statements.prepare('UPDATE lab_instances SET version = ? WHERE server = ? AND instance = ?').run(effect.sets_build, server, instance.instance);
    }
  }

  private instancesToRaise(server: string, effect: Effect): LabInstanceRow[] {
    const target = parseBuild(effect.sets_build);
    if (!target) return [];
    const rows = this.statements.prepare('SELECT * FROM lab_instances WHERE server = ?').all(server) as LabInstanceRow[];
    return rows.filter((row) => {
      if (effect.instance && row.instance.toLowerCase() !== effect.instance.toLowerCase()) return false;
      const build = parseBuild(row.version);
      return build !== null && familyOf(build) === effect.family && compareBuilds(build, target) < 0;
    });
  }

  stageFile(server: string, filePath: string, content: Buffer): string {
    const sha256 = createHash('sha256').update(content).digest('hex');
    this.db
      .transaction(() => {
        this.statements.prepare('INSERT OR REPLACE INTO lab_files (server, path, content, sha256) VALUES (?, ?, ?, ?)').run(server, filePath, content, sha256);
        this.appendEvent({ server, kind: 'file_staged', detail: { path: filePath, sha256, bytes: content.length } });
      })
      .immediate();
    return sha256;
  }

  file(server: string, filePath: string): { content: Buffer; sha256: string } | undefined {
    return this.statements.prepare('SELECT content, sha256 FROM lab_files WHERE server = ? AND path = ?').get(server, filePath) as
      | { content: Buffer; sha256: string }
      | undefined;
  }

  execution(server: string, executionId: string): LabExecutionRow | undefined {
    this.settle();
    return this.statements.prepare('SELECT * FROM lab_executions WHERE server = ? AND execution_id = ?').get(server, executionId) as
      | LabExecutionRow
      | undefined;
  }

  executions(): LabExecutionRow[] {
    this.settle();
    return this.statements.prepare('SELECT * FROM lab_executions ORDER BY id').all() as LabExecutionRow[];
  }

  /**
   * Starts an installer on a host, as Windows would: a second start with the same execution id
   * attaches to the first; a start while another installer runs on the host fails with 1618.
   */
  startExecution(server: string, executionId: string, filePath: string, parameters: string, startedBy: string | null = null): LabExecutionRow {
    this.settle();
    return this.db
      .transaction(() => {
        const existing = this.statements.prepare('SELECT * FROM lab_executions WHERE server = ? AND execution_id = ?').get(server, executionId) as
          | LabExecutionRow
          | undefined;
        if (existing) return existing;
        const installer = path.win32.basename(filePath);
        const now = this.clock();
        const busy = this.statements.prepare('SELECT 1 FROM lab_executions WHERE server = ? AND finished_at IS NULL').get(server);
        const host = this.host(server);
        let exitCode = 0;
        let seconds = 0;
        let hang = false;
        let effect: Effect | null = null;
        let scope: Effect | null = null;
        let msiTransaction = false;
        const staged = this.file(server, filePath);
        const labFile = staged ? parseLabInstaller(staged.content) : null;
        if (busy || host?.installer_busy) exitCode = EXIT_INSTALL_ALREADY_RUNNING;
        else if (!staged) exitCode = EXIT_FILE_NOT_FOUND;
        else if (!labFile) exitCode = EXIT_BAD_EXE_FORMAT;
        else {
          const behaviour = this.behaviourOf(host, installer);
          const count = this.consumeExecution(server, installer);
          const injected = behaviour?.exit_codes[count];
          seconds = behaviour?.seconds ?? labFile.seconds ?? DEFAULT_INSTALL_SECONDS;
          hang = behaviour?.hang ?? false;
          const wouldChange: Effect = { family: labFile.family, sets_build: labFile.sets_build, instance: instanceFilter(parameters) };
          scope = wouldChange;
          msiTransaction = behaviour?.msi_transaction ?? false;
          if (injected !== undefined) exitCode = injected;
          else if (this.instancesToRaise(server, wouldChange).length === 0) exitCode = EXIT_NOTHING_TO_PATCH;
          const accepted = exitCode === 0 || exitCode === 3010 || exitCode === 1641;
          if (accepted && !behaviour?.no_effect) effect = wouldChange;
        }
        const plannedFinish = hang ? null : now + Math.round(seconds * this.timeScale * 1000);
        this.statements
          .prepare(
            `INSERT INTO lab_executions (execution_id, server, installer, parameters, started_at, planned_finish_ms, planned_exit_code, effect, msi_transaction, scope, started_by)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            executionId,
            server,
            installer,
            parameters,
            new Date(now).toISOString(),
            plannedFinish,
            exitCode,
            effect ? JSON.stringify(effect) : null,
            msiTransaction ? 1 : 0,
            scope ? JSON.stringify(scope) : null,
            startedBy,
          );
        // Setup stops the instances it patches (a refused start never got that far).
        if (staged && labFile && exitCode !== EXIT_INSTALL_ALREADY_RUNNING) this.topology.instanceStopped(server, instanceFilter(parameters), now);
        return this.statements.prepare('SELECT * FROM lab_executions WHERE server = ? AND execution_id = ?').get(server, executionId) as LabExecutionRow;
      })
      .immediate();
  }

  private behaviourOf(host: LabHostRow | undefined, installer: string): LabInstallerBehaviour | undefined {
    if (!host) return undefined;
    const all = JSON.parse(host.installers) as Record<string, LabInstallerBehaviour>;
    const key = Object.keys(all).find((k) => k.toLowerCase() === installer.toLowerCase());
    const found = key ? all[key] : undefined;
    return found;
  }

  /** Counts executions of an installer on a host; `exit_codes` is consumed one per execution. */
  private consumeExecution(server: string, installer: string): number {
    const row = this.statements.prepare('SELECT executions FROM lab_installer_runs WHERE server = ? AND installer = ?').get(server, installer) as
      | { executions: number }
      | undefined;
    const count = row?.executions ?? 0;
    this.statements
      .prepare('INSERT OR REPLACE INTO lab_installer_runs (server, installer, executions) VALUES (?, ?, ?)')
      .run(server, installer, count + 1);
    return count;
  }

  /**
   * Stops a running installer (its process tree killed on timeout): no exit code, no effect. One killed
   * inside a Windows Installer transaction leaves the instances it was patching broken, as on Windows.
   */
  killExecution(server: string, executionId: string): void {
    this.db
      .transaction(() => {
        const killed = this.statements
          .prepare('UPDATE lab_executions SET finished_at = ?, killed = 1, exit_code = NULL WHERE server = ? AND execution_id = ? AND finished_at IS NULL')
          .run(this.nowIso(), server, executionId);
        if (killed.changes !== 1) return;
        // Stopping the process tree stops the wrapper too; the stop removes the folder it leaves.
        this.removeExtraction(server, executionId, 'setup was stopped', this.clock());
        const execution = this.statements.prepare('SELECT * FROM lab_executions WHERE server = ? AND execution_id = ?').get(server, executionId) as LabExecutionRow;
        if (execution.msi_transaction === 1 && execution.scope) {
          const reason = `${execution.installer} (execution ${executionId}) was stopped inside a Windows Installer transaction`;
          for (const instance of this.instancesToRaise(server, JSON.parse(execution.scope) as Effect)) {
            this.statements
              .prepare("UPDATE lab_instances SET broken = ?, engine_state = 'stopped' WHERE server = ? AND instance = ?")
              .run(reason, server, instance.instance);
            this.appendEvent({ server, instance: instance.instance, kind: 'instance_broken', detail: { reason } });
          }
        }
        if (!this.installerRunning(server)) this.topology.instanceStarted(server, this.clock());
      })
      .immediate();
  }

  /**
   * The wrapper extracted the package (setup /x:) into `folder` for this execution, before setup starts.
   * Recorded in `lab_extractions` and as an `extracted` event.
   */
  extract(server: string, executionId: string, folder: string): void {
    this.db
      .transaction(() => {
        this.statements
          .prepare('INSERT INTO lab_extractions (server, execution_id, path, created_at) VALUES (?, ?, ?, ?)')
          .run(server, executionId, folder, this.nowIso());
        this.appendEvent({ server, kind: 'extracted', detail: { path: folder, execution_id: executionId } });
      })
      .immediate();
  }

  /** Folders extracted on a host that are still on disk. */
  extractionsOnDisk(server: string): { execution_id: string; path: string }[] {
    return this.statements.prepare('SELECT execution_id, path FROM lab_extractions WHERE server = ? AND removed_at IS NULL ORDER BY id').all(server) as {
      execution_id: string;
      path: string;
    }[];
  }

  private removeExtraction(server: string, executionId: string, reason: string, atMs: number): void {
    const rows = this.statements
      .prepare('SELECT id, path FROM lab_extractions WHERE server = ? AND execution_id = ? AND removed_at IS NULL')
      .all(server, executionId) as { id: number; path: string }[];
    for (const row of rows) {
      this.statements.prepare('UPDATE lab_extractions SET removed_at = ? WHERE id = ? AND removed_at IS NULL').run(new Date(atMs).toISOString(), row.id);
      appendLabEvent(this.db, { server, kind: 'extraction_removed', detail: { path: row.path, execution_id: executionId, reason } }, atMs);
    }
  }

  /**
   * Removes the extraction folders of executions that are over or never started (what a crash or a
   * stopped wrapper left), as the install and installerStatus operations do; returns their paths.
   */
  sweepExtractions(server: string): string[] {
    this.settle();
    return this.db
      .transaction(() => {
        const removed: string[] = [];
        for (const row of this.extractionsOnDisk(server)) {
          const execution = this.statements.prepare('SELECT finished_at FROM lab_executions WHERE server = ? AND execution_id = ?').get(server, row.execution_id) as
            | { finished_at: string | null }
            | undefined;
          if (execution && execution.finished_at === null) continue;
          this.removeExtraction(server, row.execution_id, 'left by an execution that is over', this.clock());
          removed.push(row.path);
        }
        return removed;
      })
      .immediate();
  }

  /** Whether Windows Installer's mutex is held on the host: set busy, or an installer in a transaction runs. */
  msiTransactionUnderWay(server: string): boolean {
    this.settle();
    const host = this.host(server);
    const inTransaction = this.statements.prepare('SELECT 1 FROM lab_executions WHERE server = ? AND finished_at IS NULL AND msi_transaction = 1').get(server);
    return host?.installer_busy === 1 || inTransaction !== undefined;
  }
}

function addMissingColumns(db: Database.Database): void {
  for (const { table, column, definition } of ADDED_COLUMNS) {
    const columns = db.pragma(`table_info(${table})`) as { name: string }[];
    if (!columns.some((c) => c.name === column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
  }
}

/** What a finished execution does to the host's instances. */
interface Effect {
  readonly family: string;
  readonly sets_build: string;
  /** Only this instance (from /InstanceName=); null for every instance of the family. */
  readonly instance: string | null;
}
