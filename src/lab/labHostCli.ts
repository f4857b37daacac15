#!/usr/bin/env node
import { fileURLToPath } from 'node:url';
import { errorMessage } from '../errors.js';
import { bootTime, createStagingFolder, hostFacts, stagingFolderSecurity, installerSignature, type LabHostContext, moveRole, restartHost, roleOwner, runLabInstaller, runStatement, spawnWatcher, topologyRows, watchLabInstaller } from './labHost.js';

/**
 * What the lab surfaces (Surfaces.Lab.ps1) call on a host of the SSH test bed:
 *
 *   node labHostCli.js host                                          the host's facts, one JSON object
 *   node labHostCli.js topology <instance>                           the rows of the topology queries, one JSON object
 *   node labHostCli.js sql <instance> <statement>                    runs one statement of AvailabilityChange.ps1 on the world
 *   node labHostCli.js role-owner <instance>                          the node owning the FCI role of the instance
 *   node labHostCli.js move-role <instance> <node>                    moves that role; prints the new owner
 *   node labHostCli.js signature <path>                              a staged file's Authenticode answer
 *   node labHostCli.js staging-folder                                the staging folder's owner and rules by SID: {"security": …|null}
 *   node labHostCli.js create-staging-folder <path>                  the tool created it, protected: {"created": bool}
 *   node labHostCli.js boot-time                                     when the host last started: {"bootTime": ISO}
 *   node labHostCli.js restart <comment>                             restarts the host: {"alreadyUnderWay": bool}
 *   node labHostCli.js run-installer <executionId> <path> <params>   stands in for setup.exe; prints {"exitCode":N}
 *   node labHostCli.js watch-installer <pid> <executionId>           kills the world's execution when that process dies
 *
 * The world and the host come from the environment sshd sets for the host: ADA_LAB_WORLD (world.db),
 * ADA_LAB_HOST (its name there) and ADA_LAB_TIME_SCALE (default 0.01).
 */

function contextFromEnvironment(env: NodeJS.ProcessEnv): LabHostContext {
  const worldFile = env.ADA_LAB_WORLD;
  const server = env.ADA_LAB_HOST;
  if (!worldFile || !server) throw new Error('ADA_LAB_WORLD and ADA_LAB_HOST must be set (sshd_config SetEnv on a test-bed host)');
  const timeScale = Number(env.ADA_LAB_TIME_SCALE ?? '0.01');
  if (!(timeScale > 0)) throw new Error(`ADA_LAB_TIME_SCALE must be a positive number, not ${env.ADA_LAB_TIME_SCALE}`);
  return { worldFile, server, timeScale };
}

// EX_SOFTWARE: the lab itself failed.
const EXIT_LAB_FAILURE = 70;

async function main(args: readonly string[]): Promise<number> {
  const [verb, ...rest] = args;
  const context = contextFromEnvironment(process.env);
  switch (verb) {
    case 'host':
      process.stdout.write(`${JSON.stringify(hostFacts(context))}\n`);
      return 0;
    case 'topology': {
      const [instance] = rest;
      if (!instance) throw new Error('usage: topology <instance>');
      process.stdout.write(`${JSON.stringify(topologyRows(context, instance))}\n`);
      return 0;
    }
    case 'sql': {
      const [instance, statement] = rest;
      if (!instance || !statement) throw new Error('usage: sql <instance> <statement>');
      runStatement(context, instance, statement);
      process.stdout.write('{}\n');
      return 0;
    }
    case 'role-owner': {
      const [instance] = rest;
      if (!instance) throw new Error('usage: role-owner <instance>');
      process.stdout.write(`${JSON.stringify({ owner: roleOwner(context, instance) })}\n`);
      return 0;
    }
    case 'move-role': {
      const [instance, node] = rest;
      if (!instance || !node) throw new Error('usage: move-role <instance> <node>');
      process.stdout.write(`${JSON.stringify({ owner: moveRole(context, instance, node) })}\n`);
      return 0;
    }
    case 'signature': {
      const [file] = rest;
      if (!file) throw new Error('usage: signature <path>');
      process.stdout.write(`${JSON.stringify(installerSignature(file))}\n`);
      return 0;
    }
    case 'staging-folder':
      process.stdout.write(`${JSON.stringify(stagingFolderSecurity(context))}\n`);
      return 0;
    case 'create-staging-folder': {
      const [folder] = rest;
      if (!folder) throw new Error('usage: create-staging-folder <path>');
      process.stdout.write(`${JSON.stringify(createStagingFolder(context, folder))}\n`);
      return 0;
    }
    case 'boot-time':
      process.stdout.write(`${JSON.stringify(bootTime(context))}\n`);
      return 0;
    case 'restart': {
      const [comment = ''] = rest;
      process.stdout.write(`${JSON.stringify(restartHost(context, comment))}\n`);
      return 0;
    }
    case 'run-installer': {
      const [executionId, installerPath, parameters = ''] = rest;
      if (!executionId || !installerPath) throw new Error('usage: run-installer <executionId> <installerPath> [parameters]');
      const self = fileURLToPath(import.meta.url);
      const exitCode = await runLabInstaller(context, executionId, installerPath, parameters, (pid) => spawnWatcher(self, pid, executionId));
      // setup.exe's exit codes are 32-bit and a POSIX exit status is 8: the full code goes on stdout.
      process.stdout.write(`${JSON.stringify({ exitCode })}\n`);
      return exitCode & 0xff;
    }
    case 'watch-installer': {
      const [pid, executionId] = rest;
      if (!pid || !executionId) throw new Error('usage: watch-installer <pid> <executionId>');
      await watchLabInstaller(context, Number(pid), executionId);
      return 0;
    }
    default:
      throw new Error(`unknown verb ${JSON.stringify(verb)} (host, topology, sql, role-owner, move-role, signature, staging-folder, create-staging-folder, boot-time, restart, run-installer, watch-installer)`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`labHostCli: ${errorMessage(error)}\n`);
    // Not 2: setup's "file not found" must not be mistaken for a broken lab.
    process.exitCode = EXIT_LAB_FAILURE;
  },
);
