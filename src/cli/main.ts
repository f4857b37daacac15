#!/usr/bin/env node
import { CommanderError } from 'commander';
import { CancelledError, ConfigError, ConnectivityError, formatProblem, LockLostError, RefusalError, StorageError } from '../errors.js';
import { sqliteUnavailable } from '../store/sqlite.js';
import { describeStorageFailure } from '../store/storageFailure.js';
import { EXIT } from './exitCodes.js';
import { buildProgram, type CliOptions, readOptions } from './options.js';

/** The only place that exits: runs the command the flags name and turns its outcome into an exit code. */
async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram().exitOverride();
  try {
    program.parse([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.config;
    throw error;
  }
  const options = readOptions(program);
  if (options.version) {
    // Needs no configuration and no node:sqlite: it must answer on any machine.
    process.stdout.write((await import('./versionText.js')).versionText(options.json));
    return EXIT.ok;
  }
  const actions = [
    options.hotfixPlan,
    options.deployHotfixes,
    options.hotfixReport,
    options.hotfixHistory,
    options.importTargets,
    options.checkMapping,
    options.suggestMapping,
    options.updateCatalog !== undefined,
  ].filter(Boolean).length;
  if (actions === 0 && !options.labReset) {
    program.outputHelp();
    return EXIT.config;
  }
  if (actions > 1) {
    process.stderr.write(
      'error: choose one of --hotfix-plan, --deploy-hotfixes, --hotfix-report, --hotfix-history, --import-targets, --check-mapping, --suggest-mapping, --update-catalog\n',
    );
    return EXIT.config;
  }
  // Every command reads or writes history.db: a runtime without SQLite is said plainly, up front.
  const runtimeProblem = sqliteUnavailable();
  if (runtimeProblem) {
    process.stderr.write(`error: ${runtimeProblem}\n`);
    return EXIT.config;
  }
  try {
    return await dispatch(options);
  } catch (error) {
    return reportError(error, options);
  }
}

async function dispatch(options: CliOptions): Promise<number> {
  if (options.labReset) {
    const { resetLab } = await import('./labCommand.js');
    resetLab(options);
  }
  if (options.hotfixPlan) return (await import('./planCommand.js')).planCommand(options);
  if (options.deployHotfixes) return (await import('./deployCommand.js')).deployCommand(options);
  if (options.hotfixReport) return (await import('./reportCommand.js')).reportCommand(options);
  if (options.hotfixHistory) return (await import('./historyCommand.js')).historyCommand(options);
  if (options.importTargets) return (await import('./importCommand.js')).importCommand(options);
  if (options.checkMapping) return (await import('./catalogCommands.js')).checkMappingCommand(options);
  if (options.suggestMapping) return (await import('./suggestMappingCommand.js')).suggestMappingCommand(options);
  if (options.updateCatalog !== undefined) return (await import('./catalogCommands.js')).updateCatalogCommand(options, options.updateCatalog);
  return EXIT.ok;
}

function reportError(error: unknown, options: CliOptions): number {
  if (error instanceof ConfigError) {
    process.stderr.write(`Configuration error (${error.problems.length} problem${error.problems.length === 1 ? '' : 's'}):\n`);
    for (const p of error.problems) process.stderr.write(`  ${formatProblem(p)}\n`);
    return EXIT.config;
  }
  if (error instanceof RefusalError) {
    process.stderr.write(`Refused: ${error.message}\n`);
    return EXIT.config;
  }
  if (error instanceof StorageError) {
    process.stderr.write(`Refused: ${error.message}\n`);
    return EXIT.config;
  }
  if (error instanceof LockLostError) {
    process.stderr.write(`Stopped: ${error.message}. The process that holds the lock now settles what this one left; see --hotfix-history.\n`);
    return EXIT.lockLost;
  }
  if (error instanceof ConnectivityError) {
    process.stderr.write(`Connectivity error: ${error.message}\n`);
    return EXIT.connectivity;
  }
  if (error instanceof CancelledError) {
    process.stderr.write(`${error.message}\n`);
    return EXIT.cancelled;
  }
  const storage = describeStorageFailure(error);
  if (storage !== null) {
    process.stderr.write(`Refused: history.db: ${storage}\n`);
    return EXIT.config;
  }
  const detail = error instanceof Error ? (options.verbose || options.logLevel === 'debug' ? error.stack : error.message) : String(error);
  process.stderr.write(`Internal error: ${detail}\nThis is a defect in autodbaudit; run again with --verbose for the stack trace.\n`);
  return EXIT.internal;
}

// A closed pipe (`| head -3`) or a closed terminal must not kill a deployment: output that cannot be
// shown is dropped; the log file and history.db still receive everything.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE' || error.code === 'EIO' || error.code === 'ERR_STREAM_DESTROYED') return;
    throw error;
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`Internal error: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = EXIT.internal;
  },
);
