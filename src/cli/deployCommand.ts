import os from 'node:os';
import type { Config } from '../config/load.js';
import { displayPath } from '../config/paths.js';
import { Cancellation } from '../deploy/cancellation.js';
import { executeRun, isProblem, type RunOutcome } from '../deploy/engine.js';
import { InstallerCache } from '../deploy/installerCache.js';
import { hashInstallers } from '../deploy/localInstallers.js';
import { loadConfigOrThrow, openHistoryFor, type PreparedPlan, preparePlan } from '../deploy/preparePlan.js';
import { ConfigError, RefusalError } from '../errors.js';
import { TransportProvider } from '../remote/transports.js';
import { History, type RunRow } from '../store/history.js';
import { type LockRow, RunLock } from '../store/runLock.js';
import { EXIT } from './exitCodes.js';
import { LogFile } from './logger.js';
import type { CliOptions } from './options.js';
import { catalogSourceText } from './buildFactsText.js';
import { formatPlan } from './planText.js';
import { forecastForPlan, formatSchedule, windowEndOf } from './scheduleText.js';
import { executeStageRun } from '../deploy/stageRun.js';
import type { RunMode } from '../store/states.js';
import pLimit from 'p-limit';
import { ProgressView } from './progress.js';
import { confirm } from './prompt.js';
import { reportAfterDeployment } from './reportCommand.js';
import { formatRunSummary } from './runSummary.js';

const GB = 1024 ** 3;

/** `--deploy-hotfixes` (with `--resume` or `--retry-failed`): plan, confirm, lock, deploy, report. */
export async function deployCommand(options: CliOptions): Promise<number> {
  if (options.resume && options.retryFailed) throw new RefusalError('--resume and --retry-failed do different things; choose one');
  const config = loadConfigOrThrow(options.config);
  const db = openHistoryFor(config);
  const history = new History(db);
  const transports = new TransportProvider(config);
  try {
    refuseWhileLocked(history);
    if (options.resume) return await resume(options, config, history, transports);
    if (options.stageOnly && (options.resume || options.retryFailed)) throw new RefusalError('--stage-only starts a stage-only run of its own; to continue one that was interrupted, use --resume alone');
    if (options.continueAfterHalt && !options.resume) throw new RefusalError('--continue-after-halt goes with --resume: it lets a halted run go on with its later waves');
    if (!options.stageOnly && (options.windowEnd !== undefined || config.settings.maintenance_window || config.settings.waves)) {
      // Shown by --hotfix-plan already; a deployment must not pretend to keep a window it does not enforce.
      throw new RefusalError('maintenance windows and waves are shown by --hotfix-plan but not yet enforced by --deploy-hotfixes; remove --window-end, maintenance_window and waves to deploy');
    }
    if (options.retryFailed) return await retryFailed(options, config, history, transports);
    return await deployPlan(options, config, history, transports, { mode: options.stageOnly ? 'stage' : 'deploy', parent: null, servers: options.server });
  } finally {
    await transports.dispose();
    db.close();
  }
}

interface NewRunSpec {
  readonly mode: RunMode;
  readonly parent: RunRow | null;
  readonly servers: readonly string[];
}

async function deployPlan(options: CliOptions, config: Config, history: History, transports: TransportProvider, spec: NewRunSpec): Promise<number> {
  const out = process.stdout;
  refuseWhileUnfinished(history);
  const prepared = await preparePlan(config, history.db, transports, {
    servers: spec.servers,
    offline: false,
    concurrency: Math.max(8, maxConcurrent(options, config)),
  });
  for (const warning of prepared.warnings) process.stderr.write(`warning: ${warning}\n`);
  const { forecast, schedule } = forecastForPlan(config, prepared.hosts, prepared.targets, history.durationSamples(), {
    concurrency: maxConcurrent(options, config),
    windowEndMs: spec.mode === 'stage' ? null : windowEndOf(options.windowEnd, config),
  });
  for (const warning of forecast.warnings) process.stderr.write(`warning: ${warning}\n`);
  const scheduleText = spec.mode === 'stage' ? undefined : formatSchedule(schedule);
  const facts = catalogSourceText(prepared.catalog, prepared.catalogOrigin);
  out.write(`${formatPlan(prepared.plan, `versions as the hosts reported them just now; ${facts}`, scheduleText)}\n\n`);

  const withWork = prepared.hosts.filter((h) => h.steps.length > 0);
  if (withWork.length === 0) return nothingToDeploy(prepared);
  const hashed = await hashInstallers(withWork, displayPath(config.files.mapping));
  if (hashed.problems.length > 0) throw new ConfigError(hashed.problems);

  const executions = withWork.reduce((n, h) => n + h.steps.length, 0);
  await confirmOrRefuse(
    options,
    spec.mode === 'stage'
      ? `Stage ${executions} installer(s) on ${withWork.length} host(s), at most ${stagingHosts(config)} at once? Nothing will be installed.`
      : `Deploy ${executions} installer execution(s) to ${withWork.length} host(s), at most ${maxConcurrent(options, config)} at once?`,
  );

  return withRunLock(history, async (lock) => {
    const runId = history.createRun({
      mode: spec.mode,
      options: runOptions(options, config, spec.mode),
      parentRunId: spec.parent?.id ?? null,
      operator: operatorName(),
      host: os.hostname(),
      configPath: config.files.auditConfig,
      hosts: prepared.hosts,
      liveInventory: prepared.live,
    });
    lock.setRun(runId);
    return runDeployment(options, config, history, transports, runId, new InstallerCache(hashed.installers));
  });
}

function nothingToDeploy(prepared: PreparedPlan): number {
  const { summary } = prepared.plan;
  process.stdout.write('Nothing to deploy: no instance needs an installer.\n');
  const total = prepared.plan.targets.length;
  if (total > 0 && summary.unreachable === total) return EXIT.connectivity;
  return summary.unreachable > 0 || summary.invalid_version > 0 ? EXIT.targetsFailed : EXIT.ok;
}

async function resume(options: CliOptions, config: Config, history: History, transports: TransportProvider): Promise<number> {
  const run = options.runId !== undefined ? history.run(options.runId) : history.latestUnfinishedRun();
  if (!run) {
    if (options.runId !== undefined) throw new RefusalError(`there is no run ${options.runId} in ${config.historyDbPath}`);
    process.stdout.write('Nothing to resume: every run in history.db has finished.\n');
    return EXIT.ok;
  }
  if (run.status !== 'running' && run.status !== 'interrupted') {
    process.stdout.write(`Nothing to resume: run ${run.id} has finished (${run.status}). Use --retry-failed to run its failed targets again.\n`);
    return EXIT.ok;
  }
  const unfinished = history.targets(run.id).filter((t) => t.status === 'pending' || t.status === 'in_progress');
  const hosts = new Set(unfinished.map((t) => t.server.toLowerCase())).size;
  process.stdout.write(`Run ${run.id} (started ${run.started_at} by ${run.operator} on ${run.host}) is ${run.status}: ${unfinished.length} target(s) on ${hosts} host(s) unfinished.\n`);
  await confirmOrRefuse(options, `Resume run ${run.id}?`);
  return withRunLock(history, async (lock) => {
    // Re-read under the lock: the run may have been resumed by another process meanwhile.
    const current = history.run(run.id)!;
    if (current.status !== 'running' && current.status !== 'interrupted') {
      process.stdout.write(`Nothing to resume: run ${run.id} finished meanwhile (${current.status}).\n`);
      return EXIT.ok;
    }
    lock.setRun(run.id);
    if (current.status === 'running') {
      // Still `running` with nobody holding the lock: its process died (crash, kill, power loss).
      history.addEvent({
        runId: run.id,
        level: 'warn',
        kind: 'run_interrupted',
        message: `run ${run.id} was found unfinished with no process running it (the orchestrator died); settling what it left running`,
      });
    }
    history.runResumed(run.id, `run ${run.id} resumed by ${operatorName()} on ${os.hostname()} (pid ${process.pid})`);
    return runDeployment(options, config, history, transports, run.id, new InstallerCache());
  });
}

async function retryFailed(options: CliOptions, config: Config, history: History, transports: TransportProvider): Promise<number> {
  // A stage-only run installed nothing, so there is nothing of it to retry: the latest deployment is meant.
  const parent = options.runId !== undefined ? history.run(options.runId) : history.recentRuns(1000).find((r) => r.mode !== 'stage');
  if (!parent) {
    process.stdout.write('Nothing to retry: history.db has no run yet.\n');
    return EXIT.ok;
  }
  if (parent.status === 'running' || parent.status === 'interrupted') {
    throw new RefusalError(`run ${parent.id} is unfinished (${parent.status}); finish it with --deploy-hotfixes --resume before retrying`);
  }
  const targets = history.targets(parent.id);
  if (parent.mode === 'stage') throw new RefusalError(`run ${parent.id} is a stage-only run: it installed nothing; deploy with --deploy-hotfixes`);
  // Targets deferred by the maintenance window are taken too: --retry-failed in the next window runs them.
  const deferred = targets.filter((t) => t.status === 'skipped' && t.deferred_ms != null);
  const failed = [...targets.filter((t) => t.status === 'failed' || t.status === 'partial'), ...deferred];
  if (deferred.length > 0) process.stdout.write(`${deferred.length} target(s) of run ${parent.id} were deferred by its maintenance window; they are taken now.\n`);
  const otherProblems = targets.filter((t) => t.status === 'skipped' && isProblem(t) && t.deferred_ms == null);
  if (otherProblems.length > 0) {
    process.stdout.write(
      `Note: ${otherProblems.length} target(s) of run ${parent.id} were skipped (${otherProblems.map((t) => `${t.server}\\${t.instance}`).join(', ')}); --retry-failed takes failed and partial targets only: deploy those with --server once their cause is fixed.\n`,
    );
  }
  if (failed.length === 0) {
    process.stdout.write(`Nothing to retry: run ${parent.id} has no failed, partial or deferred target.\n`);
    return EXIT.ok;
  }
  process.stdout.write(`Retrying ${failed.length} failed, partial or deferred target(s) of run ${parent.id}, planned afresh from live versions.\n`);
  return deployPlan(options, config, history, transports, {
    mode: 'retry',
    parent,
    servers: failed.map((t) => `${t.server}\\${t.instance}`),
  });
}

/**
 * A new run while another is unfinished could start an installer on a host where the earlier run's
 * is still going: the operator finishes the earlier run first.
 */
function refuseWhileUnfinished(history: History): void {
  const unfinished = history.latestUnfinishedRun();
  if (!unfinished) return;
  throw new RefusalError(
    `run ${unfinished.id} (started ${unfinished.started_at} by ${unfinished.operator} on ${unfinished.host}) is unfinished (${unfinished.status}); continue it with --deploy-hotfixes --resume before starting another`,
  );
}

async function confirmOrRefuse(options: CliOptions, question: string): Promise<void> {
  if (options.yes) return;
  if (!process.stdin.isTTY) {
    throw new RefusalError('deploying needs confirmation and there is no terminal to ask on; pass --yes to deploy without asking');
  }
  if (!(await confirm(question))) throw new RefusalError('not confirmed; nothing was changed');
}

function lockOwner() {
  return { host: os.hostname(), pid: process.pid, operator: operatorName() };
}

function lockHeldError(h: LockRow): RefusalError {
  return new RefusalError(
    `another deployment holds the run lock on this history.db: ${h.operator} on host ${h.host}, pid ${h.pid}, since ${h.acquired_at}${h.run_id ? ` (run ${h.run_id})` : ''}, last heartbeat ${h.heartbeat_at}. Wait for it to finish, or stop it.`,
  );
}

/** Says who deploys right now before any planning; the lock itself is taken just before the run. */
function refuseWhileLocked(history: History): void {
  const holder = RunLock.activeHolder(history.db, lockOwner());
  if (holder) throw lockHeldError(holder);
}

async function withRunLock(history: History, body: (lock: RunLock) => Promise<number>): Promise<number> {
  const acquired = RunLock.acquire(history.db, lockOwner());
  if (!acquired.ok) throw lockHeldError(acquired.holder);
  if (acquired.tookOver) {
    const h = acquired.tookOver;
    const message = `took over a stale run lock held by ${h.operator} on ${h.host} (pid ${h.pid}, since ${h.acquired_at}${h.run_id ? `, run ${h.run_id}` : ''}): ${acquired.why}`;
    process.stderr.write(`warning: ${message}\n`);
    history.addEvent({ runId: h.run_id, level: 'warn', kind: 'lock_taken_over', message });
  }
  acquired.lock.startHeartbeat();
  try {
    return await body(acquired.lock);
  } finally {
    acquired.lock.release();
  }
}

/** Runs a recorded run with live progress, the log file, Ctrl+C handling and the summary table. */
async function runDeployment(
  options: CliOptions,
  config: Config,
  history: History,
  transports: TransportProvider,
  runId: number,
  installers: InstallerCache,
): Promise<number> {
  const log = LogFile.create(config.outputDir, options.logLevel);
  const interactive = process.stdout.isTTY === true;
  const progress = new ProgressView({
    out: process.stdout,
    interactive,
    screenLevel: options.verbose || options.logLevel === 'debug' ? 'debug' : 'info',
    log,
  });
  history.onEvent((event) => progress.log(event.level, event.message, event.error));
  transports.onNote((server, message) => progress.log('info', message.startsWith(server) ? message : `${server}: ${message}`));
  const cancellation = new Cancellation();
  const onSignal = (signal: NodeJS.Signals): void => {
    const level = cancellation.request();
    const what = signal === 'SIGINT' ? 'Ctrl+C' : signal;
    if (level === 1) {
      history.addEvent({
        runId,
        level: 'warn',
        kind: 'stop_requested',
        message: `${what}: stopping. No new installer will start; running installers are allowed to finish (killing one mid-way can leave an instance broken). Press Ctrl+C again to stop waiting.`,
      });
    } else {
      history.addEvent({
        runId,
        level: 'warn',
        kind: 'stop_now',
        message: `${what} again: no longer waiting. Running installers go on on their servers; their steps are recorded as interrupted. Continue later with --deploy-hotfixes --resume.`,
      });
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  log.write('info', `autodbaudit deploy: run ${runId}, config ${config.files.auditConfig}, history ${config.historyDbPath}`);
  let outcome: RunOutcome;
  const mode = history.run(runId)!.mode;
  const copies = pLimit(stagingHosts(config));
  try {
    const ctx = {
      runId,
      history,
      transports,
      observer: progress,
      cancellation,
      installers,
      stagingSlots: <T>(copy: () => Promise<T>) => copies(copy),
      settings: {
        stagingDir: config.settings.staging_dir,
        stepTimeoutMs: (options.stepTimeoutMinutes ?? config.settings.step_timeout_minutes) * 60_000,
        minFreeDiskBytes: config.settings.min_free_disk_gb * GB,
        ignorePendingFileRename: config.settings.ignore_pending_file_rename,
        requireSignedInstallers: config.settings.require_signed_installers,
        maxConcurrent: maxConcurrent(options, config),
        timeoutAction: config.settings.timeout_action,
        allowedSigners: config.settings.allowed_signers,
      },
    };
    outcome = mode === 'stage' ? await executeStageRun(ctx, stagingHosts(config)) : await executeRun(ctx);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    progress.stop();
  }
  const exitCode = cancellation.stopStarting ? EXIT.cancelled : outcome.exitCode;
  const summary = formatRunSummary(history, runId, { logFile: log.file, historyDb: config.historyDbPath, exitCode, color: interactive });
  process.stdout.write(`\n${summary}\n`);
  await reportAfterDeployment(config, history, runId, log);
  log.write('info', `run ${runId} ended with exit code ${exitCode}`);
  log.close();
  return exitCode;
}

function maxConcurrent(options: CliOptions, config: Config): number {
  return options.maxConcurrent ?? config.settings.max_concurrent_servers;
}

/** Hosts staged at once in a stage-only run; installer copies at once in a deployment. */
function stagingHosts(config: Config): number {
  return config.settings.max_concurrent_staging ?? config.settings.max_concurrent_servers;
}

function runOptions(options: CliOptions, config: Config, mode: RunMode): Record<string, unknown> {
  const windowEnd = mode === 'stage' ? null : windowEndOf(options.windowEnd, config);
  return {
    servers: options.server,
    // A resumed run keeps the window it was started with.
    window_end: windowEnd === null ? null : new Date(windowEnd).toISOString(),
    max_concurrent: maxConcurrent(options, config),
    step_timeout_minutes: options.stepTimeoutMinutes ?? config.settings.step_timeout_minutes,
    yes: options.yes,
  };
}

export function operatorName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USERNAME ?? process.env.USER ?? 'unknown';
  }
}
