import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseBuild } from '../sqlserver/buildNumber.js';
import { classifyExitCode } from '../sqlserver/setupExitCodes.js';
import { labSignatureOf } from './installerFile.js';
import { labDirectorySecurity } from './stagingFolder.js';
import { labMoveRole, labRoleOwner, labRunStatement, type LabTopologyRows, labTopologyRows } from './topologyFacts.js';
import { LabWorld } from './world.js';

/**
 * A lab host as the SSH test bed presents it: the facts that Surfaces.Lab.ps1 turns into registry
 * keys, services, volumes and SQL Server answers, and the process that stands in for SQL Server
 * setup. Everything acts on the same lab world as the `simulated` transport, so the lab's execution
 * log shows what ran over SSH.
 */

const GB = 1024 ** 3;
// As the simulated transport: the system drive has this much more free than the staging drive.
const SYSTEM_DRIVE_EXTRA_GB = 20;
const WATCH_INTERVAL_MS = 200;
// The signer the lab reports for a validly signed installer, as the simulated transport does.

/** Where the bed's host processes find their world, taken from the environment sshd gives them. */
export interface LabHostContext {
  readonly worldFile: string;
  readonly server: string;
  readonly timeScale: number;
}

export interface LabInstanceFacts {
  readonly instance: string;
  /** As setup registers it: `MSSQL15.MSSQLSERVER`. */
  readonly instanceId: string;
  readonly version: string | null;
  readonly edition: string | null;
}

/** Everything the lab surfaces answer from, read once per operation. */
export interface LabHostFacts {
  readonly server: string;
  readonly stagingFreeBytes: number;
  readonly systemFreeBytes: number;
  readonly pendingReboot: boolean;
  readonly servicesRunning: boolean;
  /** Windows Installer holds its mutex: the host is set busy, or an installer inside a transaction runs. */
  readonly installerBusy: boolean;
  readonly instances: readonly LabInstanceFacts[];
  /** Where the lab installer writes setup's Summary.txt for this host. */
  readonly setupLogDirectory: string;
  /** Defender's ASR rule for PSExec and WMI process creation (lab key asr_wmi_rule); null when not configured. */
  readonly asrWmiRule: string | null;
}

export class LabHostError extends Error {}

export function openWorld(context: LabHostContext): LabWorld {
  // Opening a missing file would create an empty world and hide the mistake.
  if (!existsSync(context.worldFile)) throw new LabHostError(`the lab world ${context.worldFile} does not exist`);
  return LabWorld.open(context.worldFile, [], { timeScale: context.timeScale });
}

export function setupLogDirectory(context: LabHostContext): string {
  return path.join(path.dirname(context.worldFile), 'setup-logs', context.server, 'Log');
}

function instanceId(instance: string, version: string | null): string {
  const build = parseBuild(version);
  return build ? `MSSQL${build.parts[0]}.${instance.toUpperCase()}` : `MSSQL.${instance.toUpperCase()}`;
}

export function hostFacts(context: LabHostContext): LabHostFacts {
  const world = openWorld(context);
  try {
    const host = world.host(context.server);
    if (!host) throw new LabHostError(`host ${context.server} is not in the lab world ${context.worldFile}`);
    return {
      server: host.server,
      stagingFreeBytes: host.free_disk_gb * GB,
      systemFreeBytes: (host.free_disk_gb + SYSTEM_DRIVE_EXTRA_GB) * GB,
      pendingReboot: host.pending_reboot === 1,
      servicesRunning: host.services_running === 1,
      installerBusy: world.msiTransactionUnderWay(context.server),
      instances: world.instances(context.server).map((row) => ({
        instance: row.instance,
        instanceId: instanceId(row.instance, row.version),
        version: row.version,
        edition: row.edition,
      })),
      setupLogDirectory: setupLogDirectory(context),
      asrWmiRule: host.asr_wmi_rule,
    };
  } finally {
    world.close();
  }
}

/** The Authenticode answer for a staged file: what its lab installer says, HashMismatch for anything else. */
/** The host's boot time, as Win32_OperatingSystem.LastBootUpTime would say it. */
export function bootTime(context: LabHostContext): { bootTime: string } {
  const world = openWorld(context);
  try {
    const time = world.bootTime(context.server);
    if (!time) throw new LabHostError(`host ${context.server} is not in the lab world ${context.worldFile}`);
    return { bootTime: time };
  } finally {
    world.close();
  }
}

/** Restarts the host in the world, as shutdown /r would; a restart under way is not started again. */
export function restartHost(context: LabHostContext, comment: string): { alreadyUnderWay: boolean } {
  const world = openWorld(context);
  try {
    return { alreadyUnderWay: !world.requestRestart(context.server, comment) };
  } finally {
    world.close();
  }
}

/** The host's staging folder as Get-DirectorySecurityFacts reports one: owner and rules by SID; null while it does not exist. */
export function stagingFolderSecurity(context: LabHostContext): { security: ReturnType<typeof labDirectorySecurity> } {
  const world = openWorld(context);
  try {
    return { security: labDirectorySecurity(world.stagingFolder(context.server)) };
  } finally {
    world.close();
  }
}

/** The tool created the staging folder, protected: the world records it (a folder already there stays as it is). */
export function createStagingFolder(context: LabHostContext, folderPath: string): { created: boolean } {
  const world = openWorld(context);
  try {
    return { created: world.createStagingFolder(context.server, folderPath) };
  } finally {
    world.close();
  }
}

export function installerSignature(file: string): { status: string; signer: string | null } {
  return labSignatureOf(readFileSync(file));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A running process that is not a zombie (Linux: a killed process stays listed until reaped). */
export function processRuns(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * Setup's Summary.txt, laid out as a real installer leaves it in Setup Bootstrap\Log: the run's folder
 * Log\<yyyyMMdd_HHmmss> holds Summary_<host>_<stamp>.txt and, from setup's early phase, a
 * Summary_<host>_<stamp>_GlobalRules.txt that carries no verdict; Log\Summary.txt is a copy of the
 * latest summary.
 */
function writeSummary(context: LabHostContext, executionId: string, installer: string, exitCode: number): void {
  const meaning = classifyExitCode(exitCode);
  // As setup words it: anything but 0, 3010 and 1641 is "Failed", "nothing to patch" included.
  const result = exitCode === 0 ? 'Passed' : meaning.outcome === 'success_restart' ? 'Passed but reboot required, see logs for details' : 'Failed: see details below';
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
  const directory = setupLogDirectory(context);
  const runFolder = path.join(directory, stamp);
  mkdirSync(runFolder, { recursive: true });
  const text = [
    'Overall summary:',
    `  Final result:                  ${result}`,
    `  Exit code (Decimal):           ${exitCode}`,
    `  Exit message:                  ${meaning.meaning}`,
    '  Requested action:              Patch',
    '',
    'Package properties:',
    `  PackageName:                   ${installer} (lab execution ${executionId})`,
    '',
  ].join('\r\n');
  writeFileSync(path.join(directory, 'Summary.txt'), text);
  writeFileSync(path.join(runFolder, `Summary_${context.server}_${stamp}.txt`), text);
  const rules = ['Detailed results:', '  Rule Name:                     RebootRequiredCheck', '  Result:                        Passed', ''].join('\r\n');
  writeFileSync(path.join(runFolder, `Summary_${context.server}_${stamp}_GlobalRules.txt`), rules);
}

/**
 * Runs in the process that stands in for SQL Server setup: puts the staged file's bytes into the
 * world (what the execution does comes from them), starts the execution, leaves a watcher outside its
 * process tree, waits until the execution's planned end and returns its exit code. A hanging one
 * waits until something stops it.
 */
export async function runLabInstaller(
  context: LabHostContext,
  executionId: string,
  installerPath: string,
  parameters: string,
  startWatcher: (pid: number) => void,
): Promise<number> {
  const world = openWorld(context);
  try {
    if (!world.execution(context.server, executionId)) world.stageFile(context.server, installerPath, readFileSync(installerPath));
    world.startExecution(context.server, executionId, installerPath, parameters);
    startWatcher(process.pid);
    for (;;) {
      const execution = world.execution(context.server, executionId);
      if (!execution) throw new LabHostError(`execution ${executionId} vanished from the lab world`);
      if (execution.finished_at !== null) {
        // Stopped from outside (its watcher or a test): no exit code, as after a kill on Windows.
        const exitCode = execution.exit_code ?? 1;
        writeSummary(context, executionId, execution.installer, exitCode);
        return exitCode;
      }
      const wait = execution.planned_finish_ms === null ? 500 : Math.max(10, Math.min(500, execution.planned_finish_ms - Date.now()));
      await sleep(wait);
    }
  } finally {
    world.close();
  }
}

/**
 * Runs beside a lab installer: when the installer's process is killed (the operation's timeout stops
 * its process tree), the world's execution is killed too, as stopping setup.exe ends the install.
 */
export async function watchLabInstaller(context: LabHostContext, pid: number, executionId: string): Promise<void> {
  while (processRuns(pid)) await sleep(WATCH_INTERVAL_MS);
  if (!existsSync(context.worldFile)) return;
  const world = openWorld(context);
  try {
    const execution = world.execution(context.server, executionId);
    if (execution && execution.finished_at === null) world.killExecution(context.server, executionId);
  } finally {
    world.close();
  }
}

/**
 * Starts the watcher so that it is no descendant of the installer: `sh` starts it in the background
 * and exits at once, so init adopts it and stopping the installer's process tree leaves it running.
 */
export function spawnWatcher(cliFile: string, pid: number, executionId: string): void {
  const child = spawn('/bin/sh', ['-c', '"$0" "$@" </dev/null >/dev/null 2>&1 &', process.execPath, cliFile, 'watch-installer', String(pid), executionId], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
}

/** The rows the topology queries return for one instance of this host (see topologyFacts.ts). */
export function topologyRows(context: LabHostContext, instance: string): LabTopologyRows {
  const world = openWorld(context);
  try {
    if (!world.host(context.server)) throw new LabHostError(`host ${context.server} is not in the lab world ${context.worldFile}`);
    return labTopologyRows(world, context.server, instance);
  } finally {
    world.close();
  }
}

function withWorld<T>(context: LabHostContext, work: (world: LabWorld) => T): T {
  const world = openWorld(context);
  try {
    return work(world);
  } finally {
    world.close();
  }
}

/** Runs one statement of the availability-group operations on this host's instance. */
export function runStatement(context: LabHostContext, instance: string, statement: string): void {
  withWorld(context, (world) => labRunStatement(world, context.server, instance, statement));
}

export function roleOwner(context: LabHostContext, instance: string): string {
  return withWorld(context, (world) => labRoleOwner(world, context.server, instance));
}

export function moveRole(context: LabHostContext, instance: string, node: string): string {
  return withWorld(context, (world) => labMoveRole(world, context.server, { instance, node }).current);
}
