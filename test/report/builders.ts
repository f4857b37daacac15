import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import type { HostPlan, PlanStatus, PlanTarget } from '../../src/plan/types.js';
import { type HistoryDb, openHistory } from '../../src/store/database.js';
import { executionId, History, type StepRow, type TargetRow } from '../../src/store/history.js';

/** A temp folder for one test, removed when the test passes and kept (and named) when it fails. */
export function testFolder(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `ada-report-${prefix}-`));
  onTestFinished((context) => {
    if (context.task.result?.state === 'fail') process.stderr.write(`kept the failed test's folder: ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** A clock the builders move forward by hand, so every recorded time is known in advance. */
export class SteppingClock {
  private current: number;

  constructor(startIso: string) {
    this.current = Date.parse(startIso);
  }

  readonly now = (): Date => new Date(this.current);

  advance(ms: number): void {
    this.current += ms;
  }

  /** Jumps to a later instant, e.g. the start of the next run. */
  set(iso: string): void {
    this.current = Date.parse(iso);
  }
}

export interface OpenedHistory {
  readonly db: HistoryDb;
  readonly history: History;
  readonly clock: SteppingClock;
}

/** Opens (creating) `<root>/output/history.db`, where the CLI looks for a lab root's history. */
export function openTestHistory(root: string, startIso = '2026-03-02T08:00:00.000Z'): OpenedHistory {
  const db = openHistory(path.join(root, 'output', 'history.db'));
  const clock = new SteppingClock(startIso);
  onTestFinished(() => {
    if (db.open) db.close();
  });
  return { db, history: new History(db, clock.now), clock };
}

// ─── plans ─────────────────────────────────────────────────────────────────────────────────────

interface HostSpec {
  readonly server: string;
  readonly family: string;
  readonly build: string;
  readonly target: string | null;
  readonly planStatus?: PlanStatus;
  readonly installers?: readonly (string | { readonly file: string; readonly required: false })[];
  readonly restart?: boolean;
}

/** A one-instance host (MSSQLSERVER) with its installers, as the planner would hand it over. */
function hostPlan(spec: HostSpec): HostPlan {
  const name = `${spec.server}\\MSSQLSERVER`;
  const planStatus = spec.planStatus ?? 'pending';
  const installers = planStatus === 'pending' ? (spec.installers ?? []) : [];
  const steps = installers.map((entry, index) => {
    const file = typeof entry === 'string' ? entry : entry.file;
    const localPath = `/lab/hotfixes/${spec.family}/${file}`;
    const parameters = '/quiet /IAcceptSQLServerLicenseTerms /Action=Patch /AllInstances';
    return {
      order: index + 1,
      installer: file,
      localPath,
      parameters,
      command: `"${localPath}" ${parameters}`,
      required: typeof entry === 'string',
      sha256: null,
      family: spec.family,
      mappingRef: `mappings[0].files[${index}]`,
      description: `${file} for SQL Server ${spec.family}`,
      targets: [name],
    };
  });
  const target: PlanTarget = {
    server: spec.server,
    instance: 'MSSQLSERVER',
    current_build: spec.build,
    version_family: spec.family,
    edition: 'Standard Edition (64-bit)',
    status: planStatus,
    target_build: spec.target,
    requires_restart: spec.restart ?? false,
    message: planStatus === 'up_to_date' ? `at or above the highest target build ${spec.target}` : `update to ${spec.target}`,
    steps: steps.map((s) => ({ order: s.order, installer: s.installer, path: s.localPath, required: s.required, command: s.command })),
  };
  return { server: spec.server, transport: 'simulated', port: undefined, credential: undefined, targets: [target], steps };
}

export const RUN_OPTIONS = { servers: [], max_concurrent: 3, step_timeout_minutes: 30, yes: true } as const;
export const OPERATOR = 'dba.alice';
export const ADMIN_HOST = 'ADMIN-01';

/** What a builder recorded, for the assertions to look up. */
export interface BuiltRun {
  readonly runId: number;
  readonly targets: readonly TargetRow[];
  readonly steps: readonly StepRow[];
}

function recorded(history: History, runId: number): BuiltRun {
  return { runId, targets: history.targets(runId), steps: history.steps(runId) };
}

function targetId(history: History, runId: number, server: string): number {
  const row = history.targets(runId).find((t) => t.server === server);
  if (!row) throw new Error(`builder: no target ${server} in run ${runId}`);
  return row.id;
}

function stepIds(history: History, runId: number, server: string): number[] {
  const id = targetId(history, runId, server);
  return history
    .steps(runId)
    .filter((s) => s.hotfix_target_id === id)
    .map((s) => s.id);
}

/** The step rows one installer execution on a host records. */
function executionSteps(history: History, runId: number, server: string, hostOrder: number): number[] {
  const execution = executionId(runId, server, hostOrder);
  return history
    .steps(runId)
    .filter((s) => s.execution_id === execution)
    .map((s) => s.id);
}

const MINUTE = 60_000;

/** Runs one installer execution to its end, as the engine records it. */
function execute(
  history: History,
  clock: SteppingClock,
  runId: number,
  server: string,
  hostOrder: number,
  result: { exitCode: number; exitMeaning: string | null; minutes: number; error?: string },
): void {
  const execution = executionSteps(history, runId, server, hostOrder);
  const installer = `step ${hostOrder}`;
  history.stepsRunning(runId, execution, server, `${server}: ${installer} started`);
  clock.advance(result.minutes * MINUTE);
  const failed = result.error !== undefined;
  history.stepsFinished(
    runId,
    execution,
    server,
    {
      status: failed ? 'failed' : 'success',
      exitCode: result.exitCode,
      exitMeaning: result.exitMeaning,
      durationMs: result.minutes * MINUTE,
      output: `Overall summary:\n  Final result:                  ${failed ? 'Failed: see details below' : 'Passed'}\n  Exit code (Decimal):           ${result.exitCode}`,
      error: result.error ?? null,
    },
    failed ? 'error' : 'info',
    `${server}: ${installer} exited ${result.exitCode}`,
  );
}

/**
 * Run 1: one target in each target state (success, partial, failed, skipped, pending, in_progress)
 * and one step in each step state (success, failed, skipped, pending, running, interrupted). The run
 * stops as interrupted, the way a second Ctrl+C leaves it.
 */
export function makeRunWithOneTargetInEachState(history: History, clock: SteppingClock): BuiltRun {
  const runId = history.createRun({
    mode: 'deploy',
    options: { ...RUN_OPTIONS },
    parentRunId: null,
    operator: OPERATOR,
    host: ADMIN_HOST,
    configPath: '/lab/config/audit_config.json',
    liveInventory: true,
    hosts: [
      hostPlan({ server: 'SQL-OK', family: '2019', build: '15.0.4298.1', target: '15.0.4395.2', installers: ['CU30.exe'], restart: true }),
      hostPlan({ server: 'SQL-PARTIAL', family: '2016', build: '13.0.6300.2', target: '13.0.6441.1', installers: ['SP3.exe', { file: 'CU17.exe', required: false }] }),
      hostPlan({ server: 'SQL-FAIL', family: '2022', build: '16.0.4085.0', target: '16.0.4165.4', installers: ['CU16.exe', 'CU16-GDR.exe'] }),
      hostPlan({ server: 'SQL-SKIP', family: '2019', build: '15.0.4298.1', target: '15.0.4395.2', installers: ['CU30.exe'] }),
      hostPlan({ server: 'SQL-PENDING', family: '2017', build: '14.0.3421.10', target: '14.0.3456.2', installers: ['CU31.exe'] }),
      hostPlan({ server: 'SQL-RUNNING', family: '2019', build: '15.0.4298.1', target: '15.0.4395.2', installers: ['CU30.exe'] }),
      hostPlan({ server: 'SQL-INTERRUPTED', family: '2022', build: '16.0.4085.0', target: '16.0.4165.4', installers: ['CU16.exe'] }),
      hostPlan({ server: 'SQL-CURRENT', family: '2019', build: '15.0.4395.2', target: '15.0.4395.2', planStatus: 'up_to_date' }),
    ],
  });
  const started = (server: string) => history.targetStarted(runId, [targetId(history, runId, server)], server);

  clock.advance(MINUTE);
  started('SQL-OK');
  execute(history, clock, runId, 'SQL-OK', 1, { exitCode: 3010, exitMeaning: 'success, restart required (ERROR_SUCCESS_REBOOT_REQUIRED)', minutes: 12 });
  history.targetFinished(runId, targetId(history, runId, 'SQL-OK'), 'SQL-OK', { status: 'success', postBuild: '15.0.4395.2', requiresRestart: true, error: null }, 'info', 'SQL-OK: success');

  started('SQL-PARTIAL');
  execute(history, clock, runId, 'SQL-PARTIAL', 1, { exitCode: 0, exitMeaning: 'success', minutes: 20 });
  // No recorded meaning: the report looks the code up itself.
  execute(history, clock, runId, 'SQL-PARTIAL', 2, { exitCode: 1603, exitMeaning: null, minutes: 3, error: 'SQL-PARTIAL: CU17.exe exited 1603' });
  history.targetFinished(
    runId,
    targetId(history, runId, 'SQL-PARTIAL'),
    'SQL-PARTIAL',
    { status: 'partial', postBuild: '13.0.6404.1', requiresRestart: false, error: 'SQL-PARTIAL\\MSSQLSERVER: build is 13.0.6404.1 after the installers, below the target 13.0.6441.1' },
    'error',
    'SQL-PARTIAL: partial',
  );

  started('SQL-FAIL');
  execute(history, clock, runId, 'SQL-FAIL', 1, {
    exitCode: 1603,
    exitMeaning: 'fatal error during installation (ERROR_INSTALL_FAILURE)',
    minutes: 5,
    error: 'SQL-FAIL (MSSQLSERVER): CU16.exe exited 1603 (fatal error during installation (ERROR_INSTALL_FAILURE))',
  });
  history.stepsSkipped(runId, stepIds(history, runId, 'SQL-FAIL').slice(1), 'SQL-FAIL', 'an earlier required step failed');
  history.targetFinished(
    runId,
    targetId(history, runId, 'SQL-FAIL'),
    'SQL-FAIL',
    { status: 'failed', postBuild: '16.0.4085.0', requiresRestart: false, error: 'SQL-FAIL (MSSQLSERVER): CU16.exe exited 1603' },
    'error',
    'SQL-FAIL: failed',
  );

  started('SQL-SKIP');
  history.skipHost(runId, [targetId(history, runId, 'SQL-SKIP')], 'SQL-SKIP', 'SQL-SKIP: skipped by pre-flight: a reboot is pending', {
    reached: true,
    kind: 'preflight_failed',
  });

  started('SQL-RUNNING');
  history.stepsRunning(runId, executionSteps(history, runId, 'SQL-RUNNING', 1), 'SQL-RUNNING', 'SQL-RUNNING: CU30.exe started');
  started('SQL-INTERRUPTED');
  history.stepsRunning(runId, executionSteps(history, runId, 'SQL-INTERRUPTED', 1), 'SQL-INTERRUPTED', 'SQL-INTERRUPTED: CU16.exe started');
  clock.advance(2 * MINUTE);
  history.stepsInterrupted(runId, executionSteps(history, runId, 'SQL-INTERRUPTED', 1), 'SQL-INTERRUPTED', 'SQL-INTERRUPTED: no longer waiting for CU16.exe');
  history.runFinished(runId, 'interrupted', 130, `run ${runId} interrupted`);
  return recorded(history, runId);
}

/** Run 2, a day later, retrying run 1: the partial target reaches its target, the pending one fails. */
export function makeRetryRun(history: History, clock: SteppingClock, parentRunId: number): BuiltRun {
  clock.set('2026-03-03T09:30:00.000Z');
  const runId = history.createRun({
    mode: 'retry',
    options: { ...RUN_OPTIONS, servers: ['SQL-PARTIAL', 'SQL-PENDING'] },
    parentRunId,
    operator: 'dba.bob',
    host: 'ADMIN-02',
    configPath: '/lab/config/audit_config.json',
    liveInventory: true,
    hosts: [
      hostPlan({ server: 'SQL-PARTIAL', family: '2016', build: '13.0.6404.1', target: '13.0.6441.1', installers: [{ file: 'CU17.exe', required: false }] }),
      hostPlan({ server: 'SQL-PENDING', family: '2017', build: '14.0.3421.10', target: '14.0.3456.2', installers: ['CU31.exe'] }),
    ],
  });
  for (const server of ['SQL-PARTIAL', 'SQL-PENDING']) history.targetStarted(runId, [targetId(history, runId, server)], server);
  execute(history, clock, runId, 'SQL-PARTIAL', 1, { exitCode: 0, exitMeaning: 'success', minutes: 4 });
  history.targetFinished(runId, targetId(history, runId, 'SQL-PARTIAL'), 'SQL-PARTIAL', { status: 'success', postBuild: '13.0.6441.1', requiresRestart: false, error: null }, 'info', 'ok');
  execute(history, clock, runId, 'SQL-PENDING', 1, { exitCode: 0, exitMeaning: 'success', minutes: 70 });
  history.targetFinished(
    runId,
    targetId(history, runId, 'SQL-PENDING'),
    'SQL-PENDING',
    { status: 'failed', postBuild: '14.0.3421.10', requiresRestart: false, error: 'the installer reported success (exit 0) but the build is still 14.0.3421.10' },
    'error',
    'SQL-PENDING: failed',
  );
  history.runFinished(runId, 'failed', 1, `run ${runId} failed`);
  return recorded(history, runId);
}
