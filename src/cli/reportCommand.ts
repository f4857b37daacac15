import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadBuildCatalog } from '../config/buildCatalog.js';
import type { Config } from '../config/load.js';
import { loadConfigOrThrow, openHistoryFor } from '../deploy/preparePlan.js';
import { errorMessage } from '../errors.js';
import { readRunReport } from '../report/runData.js';
import { writeRunWorkbook } from '../report/workbook.js';
import { History } from '../store/history.js';
import type { EventLevel } from '../store/states.js';
import { EXIT } from './exitCodes.js';
import type { CliOptions } from './options.js';

/** What `--hotfix-report --json` prints; both null when history.db has no run yet. */
export interface ReportJson {
  readonly report: string | null;
  readonly run_id: number | null;
}

/** `--hotfix-report`: writes the workbook of the latest run, or of `--run-id N`. */
export async function reportCommand(options: CliOptions): Promise<number> {
  const config = loadConfigOrThrow(options.config);
  // Reading must not create an empty history.db where the operator expected one to be.
  if (!existsSync(config.historyDbPath)) {
    return options.runId !== undefined ? noSuchRun(options.runId, config) : nothingToReport(options, config);
  }
  const db = openHistoryFor(config);
  try {
    const history = new History(db);
    const run = options.runId !== undefined ? history.run(options.runId) : history.latestRun();
    if (!run) {
      if (options.runId !== undefined) return noSuchRun(options.runId, config);
      return nothingToReport(options, config);
    }
    const file = await writeRunReport(config, history, run.id);
    if (options.json) printJson({ report: file, run_id: run.id });
    else process.stdout.write(`Report for run ${run.id} (${run.status}): ${file}\n`);
    return EXIT.ok;
  } finally {
    db.close();
  }
}

/** `<output>/reports/`, beside history.db and the logs. */
export function reportsDir(config: Config): string {
  return path.join(config.outputDir, 'reports');
}

async function writeRunReport(config: Config, history: History, runId: number): Promise<string> {
  const data = readRunReport(history, runId);
  if (!data) throw new Error(`run ${runId} is not in ${config.historyDbPath}`);
  // The Builds sheet: where each target's build stands, from the catalog in use when the report is written.
  const { catalog, warnings } = await loadBuildCatalog(config);
  for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
  return writeRunWorkbook(data, reportsDir(config), catalog);
}

/**
 * Writes the workbook at the end of a deployment. Never throws: the run is already recorded, and a
 * report that cannot be written (disk full, file locked by Excel) must not change the exit code.
 */
export async function reportAfterDeployment(
  config: Config,
  history: History,
  runId: number,
  log: { write(level: EventLevel, message: string, error?: unknown): void },
): Promise<string | null> {
  try {
    const file = await writeRunReport(config, history, runId);
    process.stdout.write(`Report: ${file}\n`);
    log.write('info', `report for run ${runId} written to ${file}`);
    return file;
  } catch (error) {
    const message = `the report for run ${runId} could not be written (${errorMessage(error)}); the run is recorded in history.db, write the report later with --hotfix-report --run-id ${runId}`;
    process.stderr.write(`warning: ${message}\n`);
    log.write('warn', message, error);
    return null;
  }
}

function nothingToReport(options: CliOptions, config: Config): number {
  if (options.json) printJson({ report: null, run_id: null });
  else process.stdout.write(`Nothing to report: ${config.historyDbPath} has no run yet.\n`);
  return EXIT.ok;
}

export function noSuchRun(runId: number, config: Config): number {
  process.stderr.write(`error: there is no run ${runId} in ${config.historyDbPath}; list the runs with --hotfix-history\n`);
  return EXIT.config;
}

function printJson(value: ReportJson): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
