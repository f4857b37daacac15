import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseIsoTime } from '../config/isoTime.js';
import { TIMEOUT_MINUTES } from '../config/schemas.js';
import { runningAsExecutable } from '../shippedFiles.js';
import { RESTART_POLICIES, type RestartPolicy } from '../config/schemas.js';
import type { EventLevel } from '../store/states.js';
import { parseLogLevel } from './logger.js';

/** Everything the command line can say, after parsing. */
export interface CliOptions {
  readonly config: string;
  readonly hotfixPlan: boolean;
  readonly deployHotfixes: boolean;
  readonly hotfixReport: boolean;
  readonly hotfixHistory: boolean;
  readonly importTargets: boolean;
  readonly labReset: boolean;
  readonly json: boolean;
  readonly server: readonly string[];
  readonly offline: boolean;
  readonly yes: boolean;
  readonly resume: boolean;
  readonly retryFailed: boolean;
  readonly runId: number | undefined;
  readonly maxConcurrent: number | undefined;
  readonly stepTimeoutMinutes: number | undefined;
  /** --restart, --clear-pending-reboot, --restart-timeout-minutes: this run's restart settings, over the configuration's. */
  readonly restart: RestartPolicy | undefined;
  readonly clearPendingReboot: true | undefined;
  readonly restartTimeoutMinutes: number | undefined;
  /** `--sync-timeout-minutes`: overrides availability_groups.sync_timeout_minutes. */
  readonly syncTimeoutMinutes: number | undefined;
  readonly verbose: boolean;
  readonly logLevel: EventLevel;
  readonly checkMapping: boolean;
  readonly suggestMapping: boolean;
  /** `--update-catalog FILE`: the dbatools reference file to replace the build catalog from. */
  readonly updateCatalog: string | undefined;
  /** --window-end: when the maintenance window closes (epoch ms), overriding maintenance_window.end. */
  readonly windowEnd: number | undefined;
  /** --stage-only: copy and verify the installers on their hosts, install nothing. */
  readonly stageOnly: boolean;
  /** --continue-after-halt: with --retry-failed, also take the targets that a halted wave held back. */
  readonly continueAfterHalt: boolean;
  /** --accept-topology: record the live availability groups and FCIs even where they differ from the recorded ones. */
  readonly acceptTopology: boolean;
  /** --version: print the version (with --json also the Node.js release and the catalog's date). */
  readonly version: boolean;
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** A time limit in minutes, within the same bounds as the configuration's. */
function timeoutMinutesOption(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < TIMEOUT_MINUTES.min || n > TIMEOUT_MINUTES.max) {
    throw new InvalidArgumentError(`expected a number of minutes from ${TIMEOUT_MINUTES.min} (0.6 s) to ${TIMEOUT_MINUTES.max} (one week)`);
  }
  return n;
}

/** An ISO-8601 time with its offset (or Z): a window's end must not depend on the PC's time zone guess. */
export function parseWindowEnd(value: string): number {
  const parsed = parseIsoTime(value);
  if ('problem' in parsed) throw new InvalidArgumentError(parsed.problem);
  return parsed.ms;
}

function restartPolicy(value: string): RestartPolicy {
  const policy = RESTART_POLICIES.find((p) => p === value.trim().toLowerCase());
  if (!policy) throw new InvalidArgumentError(`expected ${RESTART_POLICIES.join(', ')}`);
  return policy;
}

function logLevel(value: string): EventLevel {
  const level = parseLogLevel(value);
  if (!level) throw new InvalidArgumentError('expected DEBUG, INFO, WARN or ERROR');
  return level;
}

/**
 * `config/audit_config.json` under the working directory; for AutoDBAudit.exe, the config folder next
 * to the executable, so the exe finds its configuration whichever folder it is started from.
 */
export function defaultConfigPath(): string {
  if (runningAsExecutable()) return path.join(path.dirname(process.execPath), 'config', 'audit_config.json');
  return 'config/audit_config.json';
}

/** The commands a DBA runs most, shown at the end of --help. */
export const HELP_EXAMPLES = `
Examples:
  Plan from the recorded versions, changing nothing:
    autodbaudit --hotfix-plan --offline --config C:\\AutoDBAudit\\config\\audit_config.json
  Deploy the plan (asks for confirmation; --yes skips the question):
    autodbaudit --deploy-hotfixes --config C:\\AutoDBAudit\\config\\audit_config.json
  Continue the latest unfinished run after Ctrl+C, a crash or a lost connection:
    autodbaudit --deploy-hotfixes --resume --config C:\\AutoDBAudit\\config\\audit_config.json
  Start a new run for the failed and partial targets of the latest run:
    autodbaudit --deploy-hotfixes --retry-failed --config C:\\AutoDBAudit\\config\\audit_config.json
  List recent runs, then show one:
    autodbaudit --hotfix-history --config C:\\AutoDBAudit\\config\\audit_config.json
    autodbaudit --hotfix-history --run-id 12 --config C:\\AutoDBAudit\\config\\audit_config.json
  Write the Excel report of the latest run (or of --run-id N):
    autodbaudit --hotfix-report --config C:\\AutoDBAudit\\config\\audit_config.json`;

export function buildProgram(): Command {
  return new Command()
    .name('autodbaudit')
    .description('Plans, deploys, verifies and records SQL Server cumulative updates across a fleet.')
    .option('--config <path>', 'audit_config.json', defaultConfigPath())
    .option('--hotfix-plan', 'show which cumulative updates each instance needs (changes nothing)')
    .option('--deploy-hotfixes', 'carry out the plan: stage, install, verify, record')
    .option('--hotfix-report', 'write the Excel report of a run (latest, or --run-id)')
    .option('--hotfix-history', 'list recent runs, or one run with --run-id')
    .option('--import-targets', 'record the targets file into the servers table of history.db')
    .option('--lab-reset', 'recreate the simulated lab world from the configuration')
    .option('--json', 'print JSON on stdout and nothing else')
    .option('--server <name>', 'limit to HOST or HOST\\INSTANCE (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--offline', 'plan from recorded versions without connecting')
    .option('--yes', 'deploy without asking for confirmation')
    .option('--resume', 'continue the latest unfinished run (or --run-id)')
    .option('--retry-failed', "start a new run for the latest run's failed and partial targets")
    .option('--run-id <n>', 'the run to resume, report or show', positiveInteger)
    .option('--max-concurrent <n>', 'hosts patched at once (overrides max_concurrent_servers)', positiveInteger)
    .option('--step-timeout-minutes <n>', 'time allowed per installer (overrides step_timeout_minutes)', timeoutMinutesOption)
    .option('--restart <policy>', 'restart hosts: never, when_required or always (overrides hotfix.restart)', restartPolicy)
    .option('--clear-pending-reboot', 'restart a host with a pending reboot before patching it (overrides hotfix.clear_pending_reboot)')
    .option('--restart-timeout-minutes <n>', 'time a restarted host has to come back healthy (overrides restart_timeout_minutes)', timeoutMinutesOption)
    .option('--sync-timeout-minutes <n>', 'time a patched availability group replica has to be back in sync (overrides availability_groups.sync_timeout_minutes)', timeoutMinutesOption)
    .option('--window-end <time>', 'end of the maintenance window, ISO-8601 with offset (overrides maintenance_window.end)', parseWindowEnd)
    .option('--stage-only', 'with --deploy-hotfixes: copy and verify every planned installer on its host (with pre-flight); install nothing')
    .option('--continue-after-halt', 'with --deploy-hotfixes --retry-failed: also take the targets a halted wave held back')
    .option('--accept-topology', 'with --hotfix-plan: record the availability groups and clusters as found now, where they differ from the record')
    .option('--verbose', 'show debug messages on screen')
    .option('--check-mapping', 'check the mapping file against the build catalog (exit 1 when it finds something)')
    .option('--suggest-mapping', 'print mapping entries for the installers under hotfixes/ (writes nothing)')
    .option('--update-catalog <file>', "replace the build catalog from dbatools' build reference file, when newer")
    .addOption(new Option('--log-level <level>', 'DEBUG, INFO, WARN or ERROR').argParser(logLevel).default('info'))
    .option('--version', 'print the version (with --json: also the Node.js version and the build catalog date)')
    .addHelpText('after', HELP_EXAMPLES)
    .showHelpAfterError()
    .allowExcessArguments(false);
}

export function readOptions(program: Command): CliOptions {
  const o = program.opts<Record<string, unknown>>();
  return {
    config: o.config as string,
    hotfixPlan: o.hotfixPlan === true,
    deployHotfixes: o.deployHotfixes === true,
    hotfixReport: o.hotfixReport === true,
    hotfixHistory: o.hotfixHistory === true,
    importTargets: o.importTargets === true,
    labReset: o.labReset === true,
    json: o.json === true,
    server: (o.server as string[]) ?? [],
    offline: o.offline === true,
    yes: o.yes === true,
    resume: o.resume === true,
    retryFailed: o.retryFailed === true,
    runId: o.runId as number | undefined,
    maxConcurrent: o.maxConcurrent as number | undefined,
    stepTimeoutMinutes: o.stepTimeoutMinutes as number | undefined,
    restart: o.restart as RestartPolicy | undefined,
    clearPendingReboot: o.clearPendingReboot === true ? true : undefined,
    restartTimeoutMinutes: o.restartTimeoutMinutes as number | undefined,
    syncTimeoutMinutes: o.syncTimeoutMinutes as number | undefined,
    verbose: o.verbose === true,
    logLevel: (o.logLevel as EventLevel | undefined) ?? 'info',
    checkMapping: o.checkMapping === true,
    suggestMapping: o.suggestMapping === true,
    updateCatalog: o.updateCatalog as string | undefined,
    windowEnd: o.windowEnd as number | undefined,
    stageOnly: o.stageOnly === true,
    continueAfterHalt: o.continueAfterHalt === true,
    acceptTopology: o.acceptTopology === true,
    version: o.version === true,
  };
}
