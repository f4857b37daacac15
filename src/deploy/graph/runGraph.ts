import type { ActionDependency, ActionRow, History } from '../../store/history.js';
import { isFinalActionStatus } from '../../store/states.js';

/**
 * A run's graph as the scheduler sees it: the actions recorded in history.db and the edges between
 * them. Rows are re-read per host after each action, so the state here is always what history.db says.
 */
export class RunGraph {
  private readonly rows = new Map<number, ActionRow>();
  private readonly dependencies = new Map<number, number[]>();
  /** Each host's action ids (lower-case host name), in graph order. */
  private readonly byHost = new Map<string, number[]>();

  private constructor(rows: readonly ActionRow[], edges: readonly ActionDependency[]) {
    for (const row of [...rows].sort((a, b) => a.seq - b.seq)) {
      this.rows.set(row.id, row);
      const key = row.server.toLowerCase();
      const list = this.byHost.get(key);
      if (list) list.push(row.id);
      else this.byHost.set(key, [row.id]);
    }
    for (const edge of edges) {
      const list = this.dependencies.get(edge.action_id);
      if (list) list.push(edge.depends_on);
      else this.dependencies.set(edge.action_id, [edge.depends_on]);
    }
  }

  static load(history: History, runId: number): RunGraph {
    return new RunGraph(history.actions(runId), history.actionDependencies(runId));
  }

  /** Every action, in graph order. */
  all(): ActionRow[] {
    return [...this.rows.values()].sort((a, b) => a.seq - b.seq);
  }

  /** One host's actions, in graph order. */
  ofHost(server: string): ActionRow[] {
    return (this.byHost.get(server.toLowerCase()) ?? []).map((id) => this.get(id));
  }

  /** The hosts that have actions, as first named in the graph. */
  servers(): string[] {
    return [...this.byHost.values()].map((ids) => this.get(ids[0]!).server);
  }

  get(id: number): ActionRow {
    const row = this.rows.get(id);
    if (!row) throw new Error(`run graph: no action ${id}`);
    return row;
  }

  dependenciesOf(id: number): ActionRow[] {
    return (this.dependencies.get(id) ?? []).map((dep) => this.get(dep));
  }

  /** Every action this one waits for, directly or through others. */
  ancestorsOf(id: number): ActionRow[] {
    const seen = new Map<number, ActionRow>();
    const frontier = [...this.dependenciesOf(id)];
    while (frontier.length > 0) {
      const next = frontier.pop()!;
      if (seen.has(next.id)) continue;
      seen.set(next.id, next);
      frontier.push(...this.dependenciesOf(next.id));
    }
    return [...seen.values()].sort((a, b) => a.seq - b.seq);
  }

  /** An action may start (or be settled) once every action it depends on is final. */
  dependenciesFinal(id: number): boolean {
    return this.dependenciesOf(id).every((dep) => isFinalActionStatus(dep.status));
  }

  /** Replaces one host's rows with what history.db holds now. */
  refreshHost(history: History, runId: number, server: string): void {
    for (const row of history.actionsOfHost(runId, server)) this.rows.set(row.id, row);
  }
}
