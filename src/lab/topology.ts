import { inServiceSyncState } from '../topology/syncHealth.js';
import type Database from '../store/sqlite.js';
import { labReplicasOf } from '../config/labTopology.js';
import type { AvailabilityMode, FailoverMode, ReplicaRole, TargetEntry } from '../config/schemas.js';
import type { StatementCache } from '../store/database.js';
import { appendLabEvent, type LabEventKind, type LabEventRow, readLabEvents } from './labEvents.js';

/**
 * The lab's Always On availability groups and failover cluster instances: replicas with roles,
 * availability and failover modes and a synchronization state that drops while the replica's host
 * runs an installer and comes back `resync_seconds` (× time_scale) after it ends (SYNCHRONIZED for a
 * synchronous-commit replica; SYNCHRONIZING, its healthy state, for an asynchronous-commit one, which
 * is NOT SYNCHRONIZING while down); failovers and
 * failover-mode changes as SQL Server allows them; FCI nodes with an owner. Every change of this
 * state is a row of `lab_events`, which the tests' safety oracle replays.
 *
 * Like the rest of the world, time is lazy: a resynchronization's time is fixed when the installer
 * ends, and whoever looks at the world after that time applies it (settle), with the event dated then.
 */

export const SYNC_STATES = ['SYNCHRONIZED', 'SYNCHRONIZING', 'NOT SYNCHRONIZING'] as const;
export type SyncState = (typeof SYNC_STATES)[number];

export interface LabReplicaRow {
  readonly ag: string;
  readonly server: string;
  readonly instance: string;
  readonly role: ReplicaRole;
  readonly availability_mode: AvailabilityMode;
  readonly failover_mode: FailoverMode;
  readonly sync_state: SyncState;
  /** 0 while the replica's instance is down (its host runs an installer). */
  readonly connected: 0 | 1;
  readonly resync_seconds: number;
  readonly never_resyncs: 0 | 1;
  /** Epoch milliseconds at which it is SYNCHRONIZED again; null when not pending. */
  readonly resync_due_ms: number | null;
}

export interface LabFciRow {
  /** The virtual network name the FCI is addressed by. */
  readonly server: string;
  readonly instance: string;
  /** JSON array of node names. */
  readonly nodes: string;
  readonly owner: string;
}

/** A request the world refuses, as SQL Server or the cluster would (message text like theirs). */
export class LabTopologyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LabTopologyError';
  }
}

export const TOPOLOGY_SCHEMA = `
CREATE TABLE IF NOT EXISTS lab_ag_replicas (
  ag TEXT NOT NULL COLLATE NOCASE, server TEXT NOT NULL COLLATE NOCASE, instance TEXT NOT NULL COLLATE NOCASE,
  role TEXT NOT NULL, availability_mode TEXT NOT NULL, failover_mode TEXT NOT NULL, sync_state TEXT NOT NULL,
  connected INTEGER NOT NULL DEFAULT 1, resync_seconds REAL NOT NULL, never_resyncs INTEGER NOT NULL, resync_due_ms INTEGER,
  PRIMARY KEY (ag, server, instance));
CREATE TABLE IF NOT EXISTS lab_fcis (
  server TEXT NOT NULL COLLATE NOCASE, instance TEXT NOT NULL COLLATE NOCASE, nodes TEXT NOT NULL, owner TEXT NOT NULL,
  PRIMARY KEY (server, instance));
`;

/** `HOST\INSTANCE`: how lab_events name a replica. */
export function replicaName(server: string, instance: string): string {
  return `${server}\\${instance}`;
}

/** As sys.availability_replicas names a replica: the host alone for a default instance. */
export function replicaServerName(server: string, instance: string): string {
  return instance.toUpperCase() === 'MSSQLSERVER' ? server : `${server}\\${instance}`;
}

export class LabTopology {
  constructor(
    private readonly db: Database.Database,
    private readonly statements: StatementCache,
    private readonly timeScale: number,
    private readonly clock: () => number,
  ) {}

  /** Adds the groups and clusters of `targets` that the world does not have yet; those it has keep their state. */
  seed(targets: readonly TargetEntry[]): void {
    const insertReplica = this.statements.prepare(
      `INSERT OR IGNORE INTO lab_ag_replicas (ag, server, instance, role, availability_mode, failover_mode, sync_state, resync_seconds, never_resyncs)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insertFci = this.statements.prepare('INSERT OR IGNORE INTO lab_fcis (server, instance, nodes, owner) VALUES (?, ?, ?, ?)');
    for (const t of targets) {
      for (const r of labReplicasOf(t)) {
        insertReplica.run(
          r.name,
          t.server,
          t.instance,
          r.role,
          r.availability_mode,
          r.failover_mode,
          // A healthy asynchronous-commit replica is SYNCHRONIZING, never SYNCHRONIZED.
          inServiceSyncState(r.availability_mode),
          r.resync_seconds,
          r.never_resyncs ? 1 : 0,
        );
      }
      const cluster = t.simulation?.failover_cluster;
      if (cluster) {
        const owner = cluster.nodes.find((n) => n.toLowerCase() === cluster.owner.toLowerCase()) ?? cluster.owner;
        insertFci.run(t.server, t.instance, JSON.stringify(cluster.nodes), owner);
      }
    }
  }

  private event(atMs: number, server: string, instance: string | null, kind: LabEventKind, detail: Record<string, unknown>): void {
    appendLabEvent(this.db, { server, instance, kind, detail }, atMs);
  }

  private setSyncState(replica: LabReplicaRow, state: SyncState, atMs: number): void {
    if (replica.sync_state === state) return;
    this.statements.prepare('UPDATE lab_ag_replicas SET sync_state = ? WHERE ag = ? AND server = ? AND instance = ?').run(state, replica.ag, replica.server, replica.instance);
    this.event(atMs, replica.server, replica.instance, 'sync_state', { ag: replica.ag, replica: replicaName(replica.server, replica.instance), state });
  }

  replicas(ag?: string): LabReplicaRow[] {
    if (ag === undefined) return this.statements.prepare('SELECT * FROM lab_ag_replicas ORDER BY ag, server, instance').all() as LabReplicaRow[];
    return this.statements.prepare('SELECT * FROM lab_ag_replicas WHERE ag = ? ORDER BY server, instance').all(ag) as LabReplicaRow[];
  }

  private replicasOnHost(server: string): LabReplicaRow[] {
    return this.statements.prepare('SELECT * FROM lab_ag_replicas WHERE server = ? ORDER BY ag, instance').all(server) as LabReplicaRow[];
  }

  private replica(ag: string, server: string, instance: string): LabReplicaRow | undefined {
    return this.statements.prepare('SELECT * FROM lab_ag_replicas WHERE ag = ? AND server = ? AND instance = ?').get(ag, server, instance) as
      | LabReplicaRow
      | undefined;
  }

  fcis(): LabFciRow[] {
    return this.statements.prepare('SELECT * FROM lab_fcis ORDER BY server, instance').all() as LabFciRow[];
  }

  fci(server: string, instance: string): LabFciRow | undefined {
    return this.statements.prepare('SELECT * FROM lab_fcis WHERE server = ? AND instance = ?').get(server, instance) as LabFciRow | undefined;
  }

  events(): LabEventRow[] {
    return readLabEvents(this.db);
  }

  /**
   * An installer started on `server`: the instances it patches stop, so their replicas disconnect and
   * stop being SYNCHRONIZED. A primary that goes down with automatic failover set fails over to a
   * SYNCHRONIZED automatic partner, as the cluster would (the reason to set manual failover first).
   */
  instanceStopped(server: string, instanceFilter: string | null, atMs: number): void {
    for (const replica of this.replicasOnHost(server)) {
      if (instanceFilter && replica.instance.toLowerCase() !== instanceFilter.toLowerCase()) continue;
      this.statements
        .prepare('UPDATE lab_ag_replicas SET connected = 0, resync_due_ms = NULL WHERE ag = ? AND server = ? AND instance = ?')
        .run(replica.ag, replica.server, replica.instance);
      // Its healthy state is SYNCHRONIZING for an asynchronous-commit replica: down, it is NOT SYNCHRONIZING.
      this.setSyncState(replica, replica.availability_mode === 'asynchronous_commit' ? 'NOT SYNCHRONIZING' : 'SYNCHRONIZING', atMs);
      if (replica.role === 'primary' && replica.failover_mode === 'automatic') this.automaticFailover(replica, atMs);
    }
  }

  private automaticFailover(primary: LabReplicaRow, atMs: number): void {
    const partner = this.replicas(primary.ag).find(
      (r) => r.role === 'secondary' && r.connected === 1 && r.failover_mode === 'automatic' && r.availability_mode === 'synchronous_commit' && r.sync_state === 'SYNCHRONIZED',
    );
    if (!partner) return;
    this.swapPrimary(primary, partner, atMs, true);
  }

  private swapPrimary(from: LabReplicaRow, to: LabReplicaRow, atMs: number, automatic: boolean): void {
    const setRole = this.statements.prepare('UPDATE lab_ag_replicas SET role = ? WHERE ag = ? AND server = ? AND instance = ?');
    setRole.run('secondary', from.ag, from.server, from.instance);
    setRole.run('primary', to.ag, to.server, to.instance);
    this.event(atMs, to.server, to.instance, 'failover', {
      ag: from.ag,
      from: replicaName(from.server, from.instance),
      to: replicaName(to.server, to.instance),
      to_synchronized: to.sync_state === 'SYNCHRONIZED',
      ...(automatic ? { automatic: true } : {}),
    });
  }

  /**
   * The installers on `server` have all ended (finished or killed) at `atMs`: its replicas reconnect
   * and are back in their healthy state after their resync time, unless they never resynchronize.
   */
  instanceStarted(server: string, atMs: number): void {
    for (const replica of this.replicasOnHost(server)) {
      if (replica.connected === 1) continue;
      const due = replica.never_resyncs ? null : atMs + Math.round(replica.resync_seconds * this.timeScale * 1000);
      this.statements
        .prepare('UPDATE lab_ag_replicas SET connected = 1, resync_due_ms = ? WHERE ag = ? AND server = ? AND instance = ?')
        .run(due, replica.ag, replica.server, replica.instance);
    }
  }

  /** True when a resynchronization's time has come (a cheap check made on every look at the world). */
  resyncDue(now: number): boolean {
    return this.statements.prepare('SELECT 1 FROM lab_ag_replicas WHERE connected = 1 AND resync_due_ms IS NOT NULL AND resync_due_ms <= ? LIMIT 1').get(now) !== undefined;
  }

  /** Applies every resynchronization whose time has come, in time order. */
  settle(now: number): void {
    const due = this.statements
      .prepare('SELECT * FROM lab_ag_replicas WHERE connected = 1 AND resync_due_ms IS NOT NULL AND resync_due_ms <= ? ORDER BY resync_due_ms')
      .all(now) as LabReplicaRow[];
    for (const replica of due) {
      this.statements.prepare('UPDATE lab_ag_replicas SET resync_due_ms = NULL WHERE ag = ? AND server = ? AND instance = ?').run(replica.ag, replica.server, replica.instance);
      this.setSyncState(replica, inServiceSyncState(replica.availability_mode), replica.resync_due_ms!);
    }
  }

  /**
   * `ALTER AVAILABILITY GROUP [ag] MODIFY REPLICA ON 'replica' WITH (FAILOVER_MODE = …)`, run on the
   * instance `on`: SQL Server accepts it only on the primary, and automatic only for synchronous commit.
   */
  setFailoverMode(on: { server: string; instance: string }, ag: string, replica: { server: string; instance: string }, mode: FailoverMode): void {
    const self = this.replica(ag, on.server, on.instance);
    if (!self) throw new LabTopologyError(`cannot alter the availability group '${ag}', because it does not exist or this instance has no replica of it`);
    if (self.role !== 'primary') {
      throw new LabTopologyError(`availability group '${ag}' failed to process the MODIFY REPLICA command: this instance is not its primary replica`);
    }
    const target = this.replica(ag, replica.server, replica.instance);
    if (!target) throw new LabTopologyError(`'${replicaServerName(replica.server, replica.instance)}' is not a replica of availability group '${ag}'`);
    if (mode === 'automatic' && target.availability_mode !== 'synchronous_commit') {
      throw new LabTopologyError(`automatic failover needs synchronous commit on '${replicaServerName(replica.server, replica.instance)}'`);
    }
    if (target.failover_mode === mode) return;
    this.statements.prepare('UPDATE lab_ag_replicas SET failover_mode = ? WHERE ag = ? AND server = ? AND instance = ?').run(mode, ag, target.server, target.instance);
    this.event(this.clock(), target.server, target.instance, 'failover_mode', {
      ag: target.ag,
      replica: replicaName(target.server, target.instance),
      from: target.failover_mode,
      to: mode,
    });
  }

  /**
   * `ALTER AVAILABILITY GROUP [ag] FAILOVER` on the secondary `to`: a planned failover without data
   * loss, which SQL Server allows only to a connected synchronous-commit secondary that is SYNCHRONIZED.
   */
  failover(ag: string, to: { server: string; instance: string }): void {
    const target = this.replica(ag, to.server, to.instance);
    if (!target) throw new LabTopologyError(`cannot fail over availability group '${ag}': this instance has no replica of it`);
    if (target.role === 'primary') return;
    const primary = this.replicas(ag).find((r) => r.role === 'primary');
    if (!primary) throw new LabTopologyError(`availability group '${ag}' has no primary replica`);
    if (target.availability_mode !== 'synchronous_commit' || primary.availability_mode !== 'synchronous_commit') {
      throw new LabTopologyError(
        `cannot fail over availability group '${ag}' to '${replicaServerName(to.server, to.instance)}' without data loss: both replicas must use synchronous commit`,
      );
    }
    if (target.connected !== 1 || target.sync_state !== 'SYNCHRONIZED') {
      throw new LabTopologyError(
        `Msg 41142: the availability replica '${replicaServerName(to.server, to.instance)}' cannot become the primary replica of '${ag}': its databases are ${target.sync_state}, not SYNCHRONIZED`,
      );
    }
    this.swapPrimary(primary, target, this.clock(), false);
  }

  /** Moves an FCI's role (its SQL Server resource group) to another node, as Move-ClusterGroup does. */
  moveRole(server: string, instance: string, toNode: string, nodeBusy: (node: string) => boolean): void {
    const fci = this.fci(server, instance);
    if (!fci) throw new LabTopologyError(`${server}\\${instance} is not a failover cluster instance`);
    const nodes = JSON.parse(fci.nodes) as string[];
    const node = nodes.find((n) => n.toLowerCase() === toNode.toLowerCase());
    if (!node) throw new LabTopologyError(`node ${toNode} is not a possible owner of ${server}\\${instance} (nodes: ${nodes.join(', ')})`);
    if (node.toLowerCase() === fci.owner.toLowerCase()) return;
    if (nodeBusy(node)) throw new LabTopologyError(`the role ${server}\\${instance} failed to come online on ${node}: setup is running there`);
    this.statements.prepare('UPDATE lab_fcis SET owner = ? WHERE server = ? AND instance = ?').run(node, fci.server, fci.instance);
    this.event(this.clock(), fci.server, fci.instance, 'role_move', { fci: replicaName(fci.server, fci.instance), from: fci.owner, to: node });
  }

  /** The FCIs whose virtual name is `server`, with their nodes. */
  fcisOn(server: string): LabFciRow[] {
    return this.statements.prepare('SELECT * FROM lab_fcis WHERE server = ?').all(server) as LabFciRow[];
  }

  /**
   * What the instance's DMVs show of its availability groups: every replica with its modes, and the
   * role, connection and synchronization state of all replicas when it is the primary, of itself only
   * when it is a secondary (as sys.dm_hadr_availability_replica_states does).
   */
  groupsSeenBy(server: string, instance: string): LabGroupView[] {
    const own = (this.statements.prepare('SELECT * FROM lab_ag_replicas WHERE server = ? AND instance = ? ORDER BY ag').all(server, instance) as LabReplicaRow[]);
    return own.map((self) => ({
      name: self.ag,
      replicas: this.replicas(self.ag).map((r) => {
        const local = r.server.toLowerCase() === self.server.toLowerCase() && r.instance.toLowerCase() === self.instance.toLowerCase();
        const known = local || self.role === 'primary';
        return {
          replicaServerName: replicaServerName(r.server, r.instance),
          availabilityMode: r.availability_mode,
          failoverMode: r.failover_mode,
          isLocal: local,
          role: known ? r.role : null,
          connected: known ? r.connected === 1 : null,
          synchronizationState: known ? r.sync_state : null,
          failoverReady: known ? r.availability_mode === 'synchronous_commit' && r.sync_state === 'SYNCHRONIZED' && r.connected === 1 : null,
        };
      }),
    }));
  }
}

/** One availability group as one of its instances sees it. */
export interface LabGroupView {
  readonly name: string;
  readonly replicas: readonly {
    readonly replicaServerName: string;
    readonly availabilityMode: AvailabilityMode;
    readonly failoverMode: FailoverMode;
    readonly isLocal: boolean;
    readonly role: ReplicaRole | null;
    readonly connected: boolean | null;
    readonly synchronizationState: SyncState | null;
    readonly failoverReady: boolean | null;
  }[];
}
