import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Transport } from '../../src/remote/transport.js';
import { WinRmTransport } from '../../src/remote/winrm.js';
import { processesWith } from '../powershell/processes.js';
import { requirePwsh } from '../powershell/pwsh.js';
import { transportContract } from './transportContract.js';

// The winrm transport against the shared contract. The host is this machine (`localExecution`): the
// real session process and operations under pwsh, with the Windows surfaces answered by
// Surfaces.Posix.ps1 and installers that are shell scripts. The unreachable host goes through real
// New-PSSession, which cannot reach it.

const SQL = 'HKLM:\\SOFTWARE\\Microsoft\\Microsoft SQL Server';

function hostState(build: string): unknown {
  return {
    registry: {
      [`${SQL}\\Instance Names\\SQL`]: { MSSQLSERVER: 'MSSQL15.MSSQLSERVER' },
      [`${SQL}\\MSSQL15.MSSQLSERVER\\Setup`]: { Version: '15.0.2000.5', PatchLevel: build, Edition: 'Standard Edition', SP: 0 },
    },
    services: { MSSQLSERVER: 'Running', SQLSERVERAGENT: 'Running' },
    cluster: null,
    freeBytes: { staging: 53_687_091_200, system: 10_737_418_240 },
    installerBusy: false,
    sqlProperties: { MSSQLSERVER: { ProductVersion: build, ProductLevel: 'RTM', ProductUpdateLevel: null, Edition: 'Standard Edition (64-bit)' } },
    setupLogDirectories: [],
    hadr: {
      MSSQLSERVER: {
        cluster: { is_clustered: 0, is_hadr_enabled: 1, physical_node: 'SQL-LOCAL', server_name: 'SQL-LOCAL', nodes: [] },
        replicas: [
          { group_name: 'CONTRACT-AG', replica_server_name: 'SQL-LOCAL', availability_mode_desc: 'SYNCHRONOUS_COMMIT', failover_mode_desc: 'MANUAL', role_desc: 'PRIMARY', connected_state_desc: 'CONNECTED', is_local: 1 },
          { group_name: 'CONTRACT-AG', replica_server_name: 'SQL-LOCAL-DR', availability_mode_desc: 'ASYNCHRONOUS_COMMIT', failover_mode_desc: 'MANUAL', role_desc: 'SECONDARY', connected_state_desc: 'CONNECTED', is_local: 0 },
        ],
        databases: [
          { group_name: 'CONTRACT-AG', replica_server_name: 'SQL-LOCAL', database_count: 2, synchronized_count: 2, not_synchronizing_count: 0, failover_ready: 1 },
          { group_name: 'CONTRACT-AG', replica_server_name: 'SQL-LOCAL-DR', database_count: 2, synchronized_count: 0, not_synchronizing_count: 0, failover_ready: 0 },
        ],
      },
    },
  };
}

transportContract('winrm', async () => {
  const pwsh = requirePwsh();
  const fixtures = fileURLToPath(new URL('../powershell/fixtures/', import.meta.url));
  const work = mkdtempSync(join(tmpdir(), 'winrm-contract-'));
  const stagingDir = join(work, 'staging');
  const installers = join(work, 'installers');
  mkdirSync(installers);
  const statePath = join(work, 'host.json');
  const patchedStatePath = join(work, 'host-patched.json');
  writeFileSync(statePath, JSON.stringify(hostState('15.0.4298.0')));
  writeFileSync(patchedStatePath, JSON.stringify(hostState('15.0.4395.2')));
  const hangMarker = `600.${process.pid}`;
  const installer = (name: string, body: string): string => {
    const path = join(installers, name);
    // An update package: on /x:<folder> it extracts itself there as setup.exe; run otherwise it is setup.
    writeFileSync(path, `#!/bin/sh\ncase "$1" in /x:*) d="\${1#/x:}"; mkdir -p "$d"; cp -p "$0" "$d/setup.exe"; exit 0;; esac\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  };

  const local = new WinRmTransport(
    { localExecution: true, powershellPath: pwsh, stagingDir },
    {
      surfaces: [join(fixtures, 'PosixProcess.ps1'), join(fixtures, 'Surfaces.Posix.ps1')],
      env: { ...process.env, AUTODBAUDIT_SURFACES_STATE: statePath },
      installPollSeconds: 1,
    },
  );
  const remote = new WinRmTransport({ powershellPath: pwsh, connectTimeoutMs: 5_000 });
  const transport: Transport = {
    name: 'winrm',
    open: (address, signal) => (address.server === '127.0.0.1' ? remote : local).open(address, signal),
    dispose: async () => {
      await Promise.all([local.dispose(), remote.dispose()]);
    },
  };
  return {
    transport,
    host: { server: 'SQL-LOCAL' },
    unreachable: { server: '127.0.0.1', port: 1 },
    instance: 'MSSQLSERVER',
    startBuild: '15.0.4298.0',
    stagingDir,
    // Setup raises the build; here the installer swaps in the patched host's state.
    good: { localPath: installer('CU30.exe', `cp "${patchedStatePath}" "${statePath}"`), fileName: 'CU30.exe', setsBuild: '15.0.4395.2', exitCode: 0 },
    // 1603 as POSIX reports it: exit codes end at 255.
    failing: { localPath: installer('CU30-broken.exe', 'exit 67'), fileName: 'CU30-broken.exe', setsBuild: null, exitCode: 67 },
    hanging: { localPath: installer('CU30-hang.exe', `exec sleep ${hangMarker}`), fileName: 'CU30-hang.exe', setsBuild: null, exitCode: 0 },
    availabilityGroup: { name: 'CONTRACT-AG', localReplica: 'SQL-LOCAL', secondaryReplica: 'SQL-LOCAL-DR' },
    timeoutMs: 2_000,
    async cleanup() {
      // The detached execution of the abort test is still running, as it would on a server.
      for (const pid of processesWith(hangMarker)) process.kill(pid, 'SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 300));
      rmSync(work, { recursive: true, force: true });
    },
  };
});
