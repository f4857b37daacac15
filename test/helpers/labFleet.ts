import path from 'node:path';
import Database from '../../src/store/sqlite.js';
import { labAuditConfig, labInstaller, type MappingSpec, mapping, writeConfigTree } from './configTree.js';

/** The mapping every lab fleet in the tests uses: 2019 RTM → CU19 → CU30, 2022 CU16, 2016 SP3 + optional CU. */
export const LAB_MAPPINGS: MappingSpec[] = [
  { family: '2019', min: '15.0.2000.5', target: '15.0.4298.1', files: [{ name: 'CU19.exe' }], restart: false, description: 'CU19' },
  { family: '2019', min: '15.0.4298.1', target: '15.0.4395.2', files: [{ name: 'CU30.exe' }], restart: false, description: 'CU30' },
  { family: '2022', min: '16.0.4085.0', target: '16.0.4165.4', files: [{ name: 'CU16.exe' }], restart: true, description: 'CU16' },
  {
    family: '2016',
    min: '13.0.6300.0',
    target: '13.0.6441.1',
    files: [{ name: 'SP3.exe' }, { name: 'CU17.exe', required: false }],
    restart: false,
    description: 'SP3 + CU17',
  },
];

/** Simulated seconds each lab installer takes (× time_scale for real time). */
const INSTALLER_FILES: Record<string, string> = {
  'hotfixes/2019/CU19.exe': labInstaller('2019', '15.0.4298.1', 30),
  'hotfixes/2019/CU30.exe': labInstaller('2019', '15.0.4395.2', 30),
  'hotfixes/2022/CU16.exe': labInstaller('2022', '16.0.4165.4', 30),
  'hotfixes/2016/SP3.exe': labInstaller('2016', '13.0.6404.1', 30),
  'hotfixes/2016/CU17.exe': labInstaller('2016', '13.0.6441.1', 30),
};

export interface LabTarget {
  server: string;
  instance?: string;
  version?: string;
  edition?: string;
  simulation?: Record<string, unknown>;
}

/** Writes a lab root: config, installers, targets. Returns the audit_config.json path and the root. */
export function labFleet(
  targets: readonly LabTarget[],
  options: { hotfix?: Record<string, unknown>; timeScale?: number; mappings?: MappingSpec[]; extraFiles?: Record<string, unknown> } = {},
): { root: string; config: string } {
  const root = writeConfigTree({
    'config/audit_config.json': labAuditConfig(options.hotfix ?? {}, options.timeScale ?? 0.005),
    'config/hotfix_mapping.json': mapping(options.mappings ?? LAB_MAPPINGS),
    'config/sql_targets.json': {
      schema_version: 1,
      targets: targets.map((t) => ({
        server: t.server,
        instance: t.instance ?? 'MSSQLSERVER',
        transport: 'simulated',
        // What an audit recorded; the lab's simulation block is the host's actual state.
        version: t.version ?? '15.0.4298.1',
        simulation: { version: t.version ?? '15.0.4298.1', edition: t.edition ?? 'Standard Edition (64-bit)', ...(t.simulation ?? {}) },
      })),
    },
    ...INSTALLER_FILES,
    ...(options.extraFiles ?? {}),
  });
  return { root, config: path.join(root, 'config/audit_config.json') };
}

export interface LabExecution {
  server: string;
  installer: string;
  execution_id: string;
  started_at: string;
  finished_at: string | null;
  exit_code: number | null;
  killed: number;
}

export function labExecutions(root: string): LabExecution[] {
  const db = new Database(path.join(root, 'output/lab/world.db'), { readonly: true });
  try {
    return db.prepare('SELECT server, installer, execution_id, started_at, finished_at, exit_code, killed FROM lab_executions ORDER BY id').all() as LabExecution[];
  } finally {
    db.close();
  }
}

/** Opens the lab world (output/lab/world.db) read-only for assertions. */
export function readLabWorld<T>(root: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(path.join(root, 'output/lab/world.db'), { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

/** Opens history.db read-only for assertions. */
export function readHistory<T>(root: string, sql: string, ...params: unknown[]): T[] {
  const file = path.join(root, 'output/history.db');
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } catch (error) {
    // A process killed mid-write can leave a WAL that a read-only connection may not recover: one
    // read-write open replays it (as the next run of the tool would), then the read is made again.
    if (!/readonly database/.test(String(error))) throw error;
    new Database(file).close();
    const again = new Database(file, { readonly: true });
    try {
      return again.prepare(sql).all(...params) as T[];
    } finally {
      again.close();
    }
  } finally {
    db.close();
  }
}

/** The most installers running at one instant, overall and per host, from the lab's execution log. */
export function peakConcurrency(executions: readonly LabExecution[]): { overall: number; perHost: number } {
  const points = executions.flatMap((e) => [
    { at: Date.parse(e.started_at), delta: 1, server: e.server },
    { at: e.finished_at ? Date.parse(e.finished_at) : Number.POSITIVE_INFINITY, delta: -1, server: e.server },
  ]);
  // An execution that ends at the instant another starts does not overlap it.
  points.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let overall = 0;
  let peak = 0;
  let perHostPeak = 0;
  const perHost = new Map<string, number>();
  for (const p of points) {
    overall += p.delta;
    const n = (perHost.get(p.server) ?? 0) + p.delta;
    perHost.set(p.server, n);
    peak = Math.max(peak, overall);
    perHostPeak = Math.max(perHostPeak, n);
  }
  return { overall: peak, perHost: perHostPeak };
}
