import { readFileSync } from 'node:fs';
import path from 'node:path';
import { targetsFileSchema } from '../../src/config/schemas.js';
import { readLabWorld } from './labFleet.js';
import { type OracleEvent, safetyViolations } from './safetyOracle.js';

/** What the tests of rolling updates read from a lab root after a run. */

/** The safety oracle on the lab world of `root`, from the targets its config declares. */
export function oracle(root: string): string[] {
  const targets = targetsFileSchema.parse(JSON.parse(readFileSync(path.join(root, 'config/sql_targets.json'), 'utf8'))).targets;
  const events = readLabWorld<OracleEvent>(root, 'SELECT at, server, instance, kind, detail FROM lab_events ORDER BY id');
  const executions = readLabWorld<{ server: string; started_at: string; finished_at: string | null }>(root, 'SELECT server, started_at, finished_at FROM lab_executions ORDER BY id');
  return safetyViolations(targets, events, executions);
}

/** Every lab instance's build, by `HOST\\INSTANCE` (an FCI's own row, not the build it reports). */
export function builds(root: string): Record<string, string> {
  const rows = readLabWorld<{ server: string; instance: string; version: string }>(root, 'SELECT server, instance, version FROM lab_instances ORDER BY server, instance');
  return Object.fromEntries(rows.map((r) => [`${r.server}\\${r.instance}`, r.version]));
}

/** Each replica's role and failover mode now, by `AG HOST`. */
export function replicaModes(root: string): Record<string, string> {
  const rows = readLabWorld<{ ag: string; server: string; role: string; failover_mode: string }>(root, 'SELECT ag, server, role, failover_mode FROM lab_ag_replicas ORDER BY ag, server');
  return Object.fromEntries(rows.map((r) => [`${r.ag} ${r.server}`, `${r.role} ${r.failover_mode}`]));
}

