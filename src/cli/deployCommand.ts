import os from 'node:os';
import path from 'node:path';
import type { Config } from '../config/load.js';
import type { RestartPolicy } from '../config/schemas.js';
import { displayPath } from '../config/paths.js';
import type { Cancellation } from '../deploy/cancellation.js';
import { type DeploymentIo, type DeploymentRequest, deployNew, resumeRun, retryFailed } from '../deploy/deployment.js';
import { executeRun, type RunOutcome } from '../deploy/engine.js';
import type { InstallerCache } from '../deploy/installerCache.js';
import { loadConfigOrThrow, openHistoryFor } from '../deploy/preparePlan.js';
import { ConfigError, errorMessage, LockLostError, RefusalError, StorageError } from '../errors.js';
import { TransportProvider } from '../remote/transports.js';
import { describeStorageFailure } from '../store/database.js';
import { History, type NewEvent, type RunRow } from '../store/history.js';
import { LOCK_STALE_ENV, lockTimingFromEnv } from '../store/runLock.js';
import { EXIT } from './exitCodes.js';
import { LogFile } from './logger.js';
import type { CliOptions } from './options.js';
import { catalogSourceText } from './buildFactsText.js';
import { formatPlan } from './planText.js';
import { endedWindowText, forecastForPlan, formatSchedule, windowEndOf } from './scheduleText.js';
import { executeStageRun } from '../deploy/stageRun.js';
import type { RunMode } from '../store/states.js';
import pLimit from 'p-limit';
import { restartSettingsOf } from './planCommand.js';
import { formatRestarts, plannedRestarts } from '../plan/restarts.js';
import { ProgressView } from './progress.js';
import { confirm } from './prompt.js';
import { reportAfterDeployment } from './reportCommand.js';
import { formatRunSummary } from './runSummary.js';

const GB = 1024 ** 3;

/** `--deploy-hotfixes` (with `--resume` or `--retry-failed`): plan, confirm, lock, deploy, report. */
export async function deployCommand(options: CliOptions): Promise<number> {
  if (options.resume && options.retryFailed) throw new RefusalError('--resume and --retry-failed do different things; choose one');
  const config = loadConfigOrThrow(options.config);
  const timing = lockTimingFromEnv();
  if (typeof timing === 'string') throw new ConfigError([{ file: 'environment', path: LOCK_STALE_ENV, message: timing }]);
  const db = openHistoryFor(config);
  const history = new History(db);
  const transports = new TransportProvider(config);
  const request: DeploymentRequest = {
    config,
    history,
    transports,
    owner: { host: os.hostname(), pid: process.pid, operator: operatorName() },
    lockTiming: timing,
    servers: options.server,
    runId: options.runId,
    maxConcurrent: maxConcurrent(options, config),
    stagingConcurrency: stagingHosts(config),
    newRunMode: options.stageOnly ? 'stage' : 'deploy',
    runOptions: (mode) => runOptions(options, config, mode),
    continueAfterHalt: options.continueAfterHalt,
    restartSettings: restartSettingsOf(options, config),
  };
  let log: LogFile | null = null;
  const io: DeploymentIo = {
    say: (text) => process.stdout.write(`${text}\n`),
    warn: (text) => process.stderr.write(`warning: ${text}\n`),
    showPlan: (prepared, mode) => {
      const { forecast, schedule } = forecastForPlan(config, prepared.hosts, prepared.targets, history.durationSamples(), {
        concurrency: maxConcurrent(options, config),
        windowEndMs: mode === 'stage' ? null : windowEndOf(options.windowEnd, config),
      });
      for (const warning of forecast.warnings) process.stderr.write(`warning: ${warning}\n`);
      const scheduleText = mode === 'stage' ? undefined : formatSchedule(schedule);
      const facts = catalogSourceText(prepared.catalog, prepared.catalogOrigin);
      // A stage-only run restarts nothing.
      const restartText = mode === 'stage' ? undefined : formatRestarts(restartSettingsOf(options, config), plannedRestarts(prepared.plan, restartSettingsOf(options, config)));
      process.stdout.write(`${formatPlan(prepared.plan, `versions as the hosts reported them just now; ${facts}`, scheduleText, restartText)}\n\n`);
    },
    asks: !options.yes,
    confirm: (question) => confirmOrRefuse(options, question),
    beforeRun: () => {
      log = openLogOrRefuse(config, options);
    },
    execute: (runId, installers, cancellation, hosts) => runDeployment(options, config, history, transports, runId, installers, cancellation, hosts, log!),
  };
  try {
    // A resumed run keeps its own window; one given again on the command line must still be ahead.
    if (options.resume && options.windowEnd !== undefined) refuseEndedWindow(options, config, Date.now());
    if (options.resume) return await resumeRun(request, io);
    if (options.stageOnly && (options.resume || options.retryFailed)) throw new RefusalError('--stage-only starts a stage-only run of its own; to continue one that was interrupted, use --resume alone');
    if (options.continueAfterHalt && !options.retryFailed) throw new RefusalError('--continue-after-halt goes with --retry-failed: a new run for the targets a halted wave held back (and the failed ones)');
    refuseEndedWindow(options, config, Date.now());
    if (options.retryFailed) return await retryFailed(request, io);
    return await deployNew(request, io);
  } catch (error) {
    throw storageRefusal(error, config, log !== null) ?? error;
  } finally {
    (log as LogFile | null)?.close();
    await transports.dispose();
    db.close();
  }
}

/**
 * A window that has already closed would defer every host: a new run with one is refused, naming
 * where the time came from, instead of starting and recording nothing but deferrals.
 */
function refuseEndedWindow(options: CliOptions, config: Config, now: number): void {
  if (options.stageOnly) return;
  const ended = endedWindowText(options.windowEnd, config, now);
  if (ended) throw new RefusalError(`${ended}; give the end of this window (ISO-8601 with offset)`);
}

/** A history.db (or log folder) that cannot take writes, said plainly with the file it concerns. */
function storageRefusal(error: unknown, config: Config, runStarted: boolean): StorageError | null {
  if (error instanceof StorageError || error instanceof LockLostError) return null;
  const why = describeStorageFailure(error);
  if (why === null) return null;
  // Mid-run, the installers already running were waited for; what could not be recorded is settled by --resume.
  const after = runStarted
    ? '. Nothing new was started after that; installers already running were waited for. Once fixed, run --deploy-hotfixes --resume: it asks the targets what became of every unsettled step'
    : '';
  return new StorageError(`${displayPath(config.historyDbPath)}: ${why}${after}`, { cause: error });
}

/** The log file is opened before the run row exists, so an unwritable logs folder refuses cleanly. */
function openLogOrRefuse(config: Config, options: CliOptions): LogFile {
  try {
    return LogFile.create(config.outputDir, options.logLevel);
  } catch (error) {
    const why = describeStorageFailure(error) ?? errorMessage(error);
    throw new StorageError(`${displayPath(path.join(config.outputDir, 'logs'))}: cannot create the deployment log: ${why}`, { cause: error });
  }
}

async function confirmOrRefuse(options: CliOptions, question: string): Promise<void> {
  if (options.yes) return;
  if (!process.stdin.isTTY) {
    throw new RefusalError('deploying needs confirmation and there is no terminal to ask on; pass --yes to deploy without asking');
  }
  if (!(await confirm(question))) throw new RefusalError('not confirmed; nothing was changed');
}

/** Runs a recorded run with live progress, the log file, Ctrl+C handling and the summary table. */
async function runDeployment(
  options: CliOptions,
  config: Config,
  history: History,
  transports: TransportProvider,
  runId: number,
  installers: InstallerCache,
  cancellation: Cancellation,
  hosts: ReadonlySet<string> | null,
  log: LogFile,
): Promise<number> {
  const interactive = process.stdout.isTTY === true;
  const progress = new ProgressView({
    out: process.stdout,
    interactive,
    screenLevel: options.verbose || options.logLevel === 'debug' ? 'debug' : 'info',
    log,
  });
  history.onEvent((event) => progress.log(event.level, event.message, event.error));
  transports.onNote((server, message) => progress.log('info', message.startsWith(server) ? message : `${server}: ${message}`));
  // A stop's event is best kept, but a history.db that refuses it (lock lost, disk full) must not
  // turn a signal into a crash: the stop itself still happens.
  const record = (event: NewEvent): void => {
    try {
      history.addEvent(event);
    } catch (error) {
      progress.log('warn', `${event.message} (not recorded in history.db: ${errorMessage(error)})`);
    }
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    // A closed terminal or SSH session (SIGHUP) and SIGQUIT ask for the first, gentle stop only:
    // nobody is there to mean "stop waiting for running installers".
    const gentle = signal === 'SIGHUP' || signal === 'SIGQUIT';
    if (gentle && cancellation.stopStarting) return;
    const level = cancellation.request();
    const what = signal === 'SIGINT' ? 'Ctrl+C' : signal === 'SIGHUP' ? 'SIGHUP (the terminal or session was closed)' : signal;
    if (level === 1) {
      record({
        runId,
        level: 'warn',
        kind: 'stop_requested',
        message: `${what}: stopping. No new installer will start; running installers are allowed to finish (killing one mid-way can leave an instance broken). Press Ctrl+C again to stop waiting.`,
      });
    } else {
      record({
        runId,
        level: 'warn',
        kind: 'stop_now',
        message: `${what} again: no longer waiting. Running installers go on on their servers; their steps are recorded as interrupted. Continue later with --deploy-hotfixes --resume.`,
      });
    }
  };
  const signals = stopSignals();
  for (const signal of signals) process.on(signal, onSignal);
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
      hosts,
      stagingSlots: <T>(copy: () => Promise<T>) => copies(copy),
      windowEndMs: runWindowEnd(options, history.run(runId)!),
      continueAfterHalt: options.continueAfterHalt,
      defaultExpectedMinutes: config.settings.default_expected_minutes,
      settings: {
        stagingDir: config.settings.staging_dir,
        stepTimeoutMs: (options.stepTimeoutMinutes ?? config.settings.step_timeout_minutes) * 60_000,
        minFreeDiskBytes: config.settings.min_free_disk_gb * GB,
        ignorePendingFileRename: config.settings.ignore_pending_file_rename,
        requireSignedInstallers: config.settings.require_signed_installers,
        maxConcurrent: maxConcurrent(options, config),
        timeoutAction: config.settings.timeout_action,
        installerStart: config.settings.installer_start,
        allowedSigners: config.settings.allowed_signers,
        ...restartSettings(options, config, history.run(runId)?.options),
      },
    };
    outcome = mode === 'stage' ? await executeStageRun(ctx, stagingHosts(config)) : await executeRun(ctx);
  } catch (error) {
    if (error instanceof LockLostError) log.write('error', `run ${runId}: ${error.message}`);
    throw error;
  } finally {
    for (const signal of signals) process.off(signal, onSignal);
    progress.stop();
  }
  const exitCode = cancellation.stopStarting ? EXIT.cancelled : outcome.exitCode;
  // The run has ended and is recorded: a stop now would only cost the summary and the workbook (a
  // killed writer leaves neither the file nor its `Report:` line), which take a moment. It is said
  // and the report finished; the exit code stays the run's.
  const afterRun = (signal: NodeJS.Signals): void => {
    const what = signal === 'SIGINT' ? 'Ctrl+C' : signal;
    const message = `${what}: run ${runId} has already ended and is recorded; finishing its summary and report (a moment)`;
    process.stderr.write(`${message}\n`);
    log.write('warn', message);
  };
  for (const signal of signals) process.on(signal, afterRun);
  try {
    const summary = formatRunSummary(history, runId, { logFile: log.file, historyDb: config.historyDbPath, exitCode, color: interactive });
    process.stdout.write(`\n${summary}\n`);
    await reportAfterDeployment(config, history, runId, log);
    log.write('info', `run ${runId} ended with exit code ${exitCode}`);
  } finally {
    for (const signal of signals) process.off(signal, afterRun);
    log.close();
  }
  return exitCode;
}

/**
 * The signals that stop a deployment gently. SIGHUP is also how Windows tells a console program its
 * window is closing; SIGQUIT does not exist there.
 */
export function stopSignals(platform: NodeJS.Platform = process.platform): NodeJS.Signals[] {
  return platform === 'win32' ? ['SIGINT', 'SIGTERM', 'SIGHUP'] : ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
}

/**
 * The window a run keeps: the one it was started with (its options), unless --window-end is given
 * again (an operator extending or moving the window of a resumed run).
 */
function runWindowEnd(options: CliOptions, run: RunRow): number | null {
  if (run.mode === 'stage') return null;
  if (options.windowEnd !== undefined) return options.windowEnd;
  try {
    const recorded = (JSON.parse(run.options) as { window_end?: string | null }).window_end;
    return recorded ? Date.parse(recorded) : null;
  } catch {
    return null;
  }
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
  const restart = restartSettings(options, config, undefined);
  return {
    servers: options.server,
    // A resumed run keeps the window it was started with.
    window_end: windowEnd === null ? null : new Date(windowEnd).toISOString(),
    max_concurrent: maxConcurrent(options, config),
    step_timeout_minutes: options.stepTimeoutMinutes ?? config.settings.step_timeout_minutes,
    yes: options.yes,
    restart: restart.restart,
    clear_pending_reboot: restart.clearPendingReboot,
    restart_timeout_minutes: restart.restartTimeoutMs / 60_000,
    sync_timeout_minutes: restart.syncTimeoutMs / 60_000,
  };
}

/**
 * A run's restart and resynchronization settings: the command line's, else those the run was started with (a resumed run
 * keeps them), else audit_config.json's.
 */
function restartSettings(
  options: CliOptions,
  config: Config,
  recordedOptions: string | undefined,
): { restart: RestartPolicy; clearPendingReboot: boolean; restartTimeoutMs: number; syncTimeoutMs: number } {
  let recorded: { restart?: RestartPolicy; clear_pending_reboot?: boolean; restart_timeout_minutes?: number; sync_timeout_minutes?: number } = {};
  try {
    recorded = recordedOptions ? (JSON.parse(recordedOptions) as typeof recorded) : {};
  } catch {
    recorded = {};
  }
  return {
    restart: options.restart ?? recorded.restart ?? config.settings.restart,
    clearPendingReboot: options.clearPendingReboot ?? recorded.clear_pending_reboot ?? config.settings.clear_pending_reboot,
    restartTimeoutMs: (options.restartTimeoutMinutes ?? recorded.restart_timeout_minutes ?? config.settings.restart_timeout_minutes) * 60_000,
    // A resumed run keeps the time it was started with, unless the command line gives one again.
    syncTimeoutMs: (options.syncTimeoutMinutes ?? recorded.sync_timeout_minutes ?? config.settings.availability_groups.sync_timeout_minutes) * 60_000,
  };
}

export function operatorName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USERNAME ?? process.env.USER ?? 'unknown';
  }
}
