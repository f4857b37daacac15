import { RemoteOperationError } from '../../errors.js';
import type { AvailabilityGroupFacts, AvailabilityReplicaFacts, HostSession, TransportName } from '../../remote/transport.js';
import type { ActionRow } from '../../store/history.js';
import type { DeployContext } from '../context.js';
import { detailOf } from './detail.js';

/**
 * What the actions of availability groups and failover cluster instances read and change in the
 * world: each reaches the host it needs for one operation (the group's live primary, a replica, an
 * FCI node), with the connection recorded for that host's targets in this run, and closes it again.
 * Always asked live, never assumed: a resumed run finds the world as it is now.
 */

/** `HOST\INSTANCE` → its parts. */
export function replicaRef(name: string): { server: string; instance: string } {
  const [server = name, instance = 'MSSQLSERVER'] = name.split('\\');
  return { server, instance };
}

/** Whether `replicaServerName` (as sys.availability_replicas names a replica: `HOST` or `HOST\INSTANCE`) is the replica `HOST\INSTANCE`. */
export function namesReplica(replicaServerName: string, replica: string): boolean {
  const a = replicaRef(replicaServerName);
  const b = replicaRef(replica);
  const label = (h: string) => h.toLowerCase().split('.')[0];
  return label(a.server) === label(b.server) && a.instance.toLowerCase() === b.instance.toLowerCase();
}

/** How to reach `server`: the connection recorded for its targets in this run, else that of `via`'s (an FCI node through its virtual name's target). */
function connectionFor(ctx: DeployContext, server: string, via?: string): { transport: TransportName; port: number | undefined; credential: string | undefined } {
  const targets = ctx.history.targets(ctx.runId);
  const lower = server.toLowerCase();
  const target = targets.find((t) => t.server.toLowerCase() === lower) ?? (via ? targets.find((t) => t.server.toLowerCase() === via.toLowerCase()) : undefined);
  if (!target) throw new Error(`run ${ctx.runId} has no target on ${server}${via ? ` or ${via}` : ''} to take its connection from`);
  const row = ctx.history.connectionOf(target.server_id);
  return { transport: (row.transport ?? 'winrm') as TransportName, port: row.port ?? undefined, credential: row.credential ?? undefined };
}

/** Runs `body` with a session to `server`, closed afterwards whatever happens. */
export async function withSession<T>(ctx: DeployContext, server: string, body: (session: HostSession) => Promise<T>, via?: string): Promise<T> {
  const connection = connectionFor(ctx, server, via);
  const transport = await ctx.transports.get(connection.transport);
  const session = await transport.open({ server, port: connection.port, credential: connection.credential }, ctx.cancellation.signal);
  try {
    return await body(session);
  } finally {
    await session.close().catch(() => {});
  }
}

/** One group as the instance `replica` (`HOST\INSTANCE`) sees it, read live. */
export async function groupSeenBy(ctx: DeployContext, replica: string, ag: string): Promise<AvailabilityGroupFacts> {
  const { server, instance } = replicaRef(replica);
  return withSession(ctx, server, async (session) => {
    const answer = (await session.queryTopology([instance], ctx.cancellation.signal)).instances[0];
    if (!answer || answer.error) throw new RemoteOperationError(server, 'topology', answer?.error ?? `no answer for ${instance}`);
    const group = answer.availabilityGroups.find((g) => g.name.toLowerCase() === ag.toLowerCase());
    if (!group) throw new RemoteOperationError(server, 'topology', `${replica} has no replica of availability group ${ag}`);
    return group;
  });
}

/** The replica's own row as it sees itself (its role, its synchronization state), read live. */
export async function replicaState(ctx: DeployContext, replica: string, ag: string): Promise<AvailabilityReplicaFacts> {
  const group = await groupSeenBy(ctx, replica, ag);
  const self = group.replicas.find((r) => r.isLocal) ?? group.replicas.find((r) => namesReplica(r.replicaServerName, replica));
  if (!self) throw new RemoteOperationError(replicaRef(replica).server, 'topology', `${replica} does not see itself in availability group ${ag}`);
  return self;
}

export interface LivePrimary {
  /** `HOST\INSTANCE`. */
  readonly replica: string;
  /** The group as its primary sees it: every replica with its modes and state. */
  readonly group: AvailabilityGroupFacts;
}

/**
 * The group's primary now: asks the replicas, the expected one first, until one says it is the
 * primary. A replica that cannot be reached is passed over; none saying so is an error naming them.
 */
export async function livePrimary(ctx: DeployContext, ag: string, replicas: readonly string[], expected?: string): Promise<LivePrimary> {
  const order = expected ? [expected, ...replicas.filter((r) => r.toLowerCase() !== expected.toLowerCase())] : [...replicas];
  const problems: string[] = [];
  for (const replica of order) {
    try {
      const group = await groupSeenBy(ctx, replica, ag);
      const self = group.replicas.find((r) => r.isLocal);
      if (self?.role?.toLowerCase() === 'primary') return { replica, group };
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
    }
  }
  throw new RemoteOperationError(
    `availability group ${ag}`,
    'topology',
    `no replica says it is the primary (asked ${order.join(', ')}${problems.length > 0 ? `; ${problems.join('; ')}` : ''})`,
  );
}

/** The replicas (`HOST\INSTANCE`) a group action's detail lists. */
export function replicasOfAction(action: ActionRow): string[] {
  const list = detailOf(action).replicas;
  return Array.isArray(list) ? list.map((r) => String((r as { replica: unknown }).replica)) : [];
}

/** The group keys (`ag:name`, `fci:name`, lower-case) an action belongs to. */
export function groupsOf(action: ActionRow): string[] {
  const groups = detailOf(action).groups;
  return Array.isArray(groups) ? groups.map(String) : [];
}
