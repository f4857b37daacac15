
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import Database from '../../src/store/sqlite.js';
import { labExecutions, labFleet, readHistory } from '../helpers/labFleet.js';
import { copyFleet as copyFleetOf, deployCli, resumeUntilDone } from '../helpers/crashRuns.js';

/**
 * Kills lab deployments with SIGKILL around restarts (before the request, after it, while waiting,
 * once the host is back), resumes until done, and checks that the end is what a run without crashes
 * reaches, with no host restarted twice and no installer run twice.
 */

const RESTART_POINTS = ['restart-recorded', 'restart-requested', 'wait-healthy-polling', 'host-healthy'] as const;

const template = labFleet(
  [
    { server: 'R3010', version: '16.0.4085.0', simulation: { installers: { 'CU16.exe': { exit_codes: [3010] } } } },
    { server: 'PENDING', simulation: { pending_reboot: true } },
    { server: 'OK' },
  ],
  { hotfix: { restart: 'when_required', clear_pending_reboot: true, restart_timeout_minutes: 0.5, max_concurrent_servers: 3 }, timeScale: 0.003 },
);
const copyFleet = () => copyFleetOf(template, 'ada-restart-fault-');
const cli = deployCli;

interface Outcome {
  targets: string[];
  steps: string[];
  actions: string[];
  restartsPerHost: Record<string, number>;
}

function outcomeOf(root: string): Outcome {
  const world = new Database(path.join(root, 'output/lab/world.db'), { readonly: true });
  let begins: { server: string }[];
  try {
    begins = world.prepare("SELECT server FROM lab_events WHERE kind = 'restart_begin'").all() as { server: string }[];
  } finally {
    world.close();
  }
  const restartsPerHost: Record<string, number> = {};
  for (const b of begins) restartsPerHost[b.server] = (restartsPerHost[b.server] ?? 0) + 1;
  return {
    targets: readHistory<{ server: string; status: string; post_build: string | null; requires_restart: number }>(root, 'SELECT * FROM hotfix_targets ORDER BY server').map(
      (t) => `${t.server} ${t.status} ${t.post_build} restart=${t.requires_restart}`,
    ),
    steps: readHistory<{ server: string; installer_file: string; status: string; exit_code: number | null }>(
      root,
      'SELECT t.server, s.* FROM hotfix_steps s JOIN hotfix_targets t ON t.id = s.hotfix_target_id ORDER BY t.server, s.step_order',
    ).map((s) => `${s.server} ${s.installer_file} ${s.status} ${s.exit_code}`),
    actions: readHistory<{ server: string; kind: string; status: string | null }>(root, 'SELECT server, kind, status FROM hotfix_actions ORDER BY seq').map(
      (a) => `${a.server} ${a.kind} ${a.status ?? 'steps'}`,
    ),
    restartsPerHost,
  };
}

const scenarios = [
  ...RESTART_POINTS.flatMap((point) => [1, 2].map((n) => ({ name: `${point}:${n}`, env: { AUTODBAUDIT_CRASH_AT: `${point}:${n}` }, killAfterMs: undefined }))),
  ...[700, 1200].map((ms) => ({ name: `after ${ms} ms`, env: {}, killAfterMs: ms })),
];

describe('fault injection around restarts: SIGKILL, then --resume', () => {
  let baseline: Outcome;

  beforeAll(() => {
    const fleet = copyFleet();
    const result = cli(fleet.config, []);
    expect(result.status, result.stdout + result.stderr).toBe(0);
    baseline = outcomeOf(fleet.root);
    // The crash-free run restarts the host with a pending reboot before patching and the 3010 host after it.
    expect(baseline.restartsPerHost).toEqual({ PENDING: 1, R3010: 1 });
  });

  const crashed: string[] = [];

  it.concurrent.each(scenarios)('killed at $name: resumes to the crash-free outcome, restarting no host twice', { timeout: 600_000 }, async ({ env, killAfterMs, name }) => {
    const fleet = copyFleet();
    const first = cli(fleet.config, [], env, killAfterMs);
    if (first.signal === 'SIGKILL') crashed.push(name);
    resumeUntilDone(fleet);
    expect(outcomeOf(fleet.root)).toEqual(baseline);
    const keys = labExecutions(fleet.root).map((e) => `${e.server}/${e.installer}`);
    expect(new Set(keys).size, keys.join(', ')).toBe(keys.length);
    expect(readHistory<{ integrity_check: string }>(fleet.root, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
  });

  it('actually crashed the orchestrator at every restart crash point', () => {
    for (const point of RESTART_POINTS) expect(crashed).toContain(`${point}:1`);
  });
});
