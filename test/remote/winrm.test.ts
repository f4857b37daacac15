import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConnectivityError, RemoteOperationError } from '../../src/errors.js';
import { PowerShellOperationError } from '../../src/remote/powershell/operationOutput.js';
import type { HostSession } from '../../src/remote/transport.js';
import { type WinRmDependencies, type WinRmHostSession, type WinRmOptions, WinRmTransport } from '../../src/remote/winrm.js';
import { processesWith } from '../powershell/processes.js';
import { requirePwsh } from '../powershell/pwsh.js';

// The winrm transport with `localExecution`: the real session process, protocol and operations under
// pwsh, with the Windows surfaces answered by test/powershell/fixtures/Surfaces.Posix.ps1.

const pwsh = requirePwsh();
const fixtures = fileURLToPath(new URL('../powershell/fixtures/', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'winrm-'));
const stagingDir = join(work, 'staging');
const logsDir = join(work, 'Log');
const statePath = join(work, 'surfaces.json');
const SQL = 'HKLM:\\SOFTWARE\\Microsoft\\Microsoft SQL Server';

const baseState = {
  registry: {
    [`${SQL}\\Instance Names\\SQL`]: { MSSQLSERVER: 'MSSQL15.MSSQLSERVER' },
    [`${SQL}\\MSSQL15.MSSQLSERVER\\Setup`]: {
      Version: '15.0.2000.5',
      PatchLevel: '15.0.4298.1',
      Edition: 'Standard Edition',
      SP: 0,
      SQLBinRoot: 'C:\\Program Files\\Microsoft SQL Server\\MSSQL15.MSSQLSERVER\\MSSQL\\Binn',
    },
    'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\WindowsUpdate\\Auto Update\\RebootRequired': {},
  },
  fileVersions: { 'C:\\Program Files\\Microsoft SQL Server\\MSSQL15.MSSQLSERVER\\MSSQL\\Binn\\sqlservr.exe': '15.0.4298.1' },
  services: { MSSQLSERVER: 'Running' },
  cluster: null,
  freeBytes: { staging: 53_687_091_200, system: 10_737_418_240 },
  installerBusy: false,
  sqlProperties: {
    MSSQLSERVER: { ProductVersion: '15.0.4298.1', ProductLevel: 'RTM', ProductUpdateLevel: 'CU28', Edition: 'Standard Edition (64-bit)' },
  },
  setupLogDirectories: [logsDir],
  behaviour: {} as Record<string, string>,
};

function writeState(changes: Partial<typeof baseState> = {}): void {
  writeFileSync(statePath, JSON.stringify({ ...baseState, ...changes }));
}

const notes: string[] = [];
const dependencies: WinRmDependencies = {
  surfaces: [join(fixtures, 'PosixProcess.ps1'), join(fixtures, 'Surfaces.Posix.ps1')],
  env: { ...process.env, AUTODBAUDIT_SURFACES_STATE: statePath },
  installPollSeconds: 1,
  reconnectDelayMs: 100,
  onNote: (server, message) => notes.push(`${server}: ${message}`),
};
const options: WinRmOptions = { localExecution: true, powershellPath: pwsh, stagingDir, operationTimeoutMs: 30_000 };

function newTransport(overrides: Partial<WinRmOptions> = {}): WinRmTransport {
  return new WinRmTransport({ ...options, ...overrides }, dependencies);
}

/** A shell script standing in for a SQL Server update package: on /x:<folder> it extracts itself there as setup.exe. */
function writeInstaller(name: string, body: string): { path: string; sha256: string; size: number } {
  const path = join(work, name);
  const text = `#!/bin/sh\ncase "$1" in /x:*) d="\${1#/x:}"; mkdir -p "$d"; cp -p "$0" "$d/setup.exe"; exit 0;; esac\n${body}\n`;
  writeFileSync(path, text);
  chmodSync(path, 0o755);
  return { path, sha256: createHash('sha256').update(text).digest('hex'), size: Buffer.byteLength(text) };
}

async function stageInstaller(session: HostSession, name: string, body: string): Promise<string> {
  const installer = writeInstaller(name, body);
  const staged = await session.stage({ localPath: installer.path, fileName: name, sha256: installer.sha256, sizeBytes: installer.size, stagingDir });
  return staged.remotePath;
}

async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, seconds = 20): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

beforeAll(() => {
  mkdirSync(stagingDir, { recursive: true });
  cpSync(join(fixtures, 'SetupBootstrap', 'Log'), logsDir, { recursive: true });
  writeState();
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the winrm transport running its operations in a local pwsh', () => {
  const transport = newTransport();
  let session: WinRmHostSession;
  beforeAll(async () => {
    session = (await transport.open({ server: 'SQL-LOCAL' })) as WinRmHostSession;
  });
  afterAll(() => transport.dispose());
  afterEach(() => writeState());

  it('serves every operation of a host from one PowerShell process', async () => {
    const processId = session.processId;
    expect(processId).toBeGreaterThan(0);
    expect(session.powershellVersion).toMatch(/^7\./);

    expect(await session.discover()).toEqual({
      instances: [
        {
          instance: 'MSSQLSERVER',
          build: '15.0.4298.1',
          edition: 'Standard Edition',
          patchLevel: 'RTM',
          services: [
            { name: 'MSSQLSERVER', state: 'Running' },
            { name: 'SQLSERVERAGENT', state: 'NotFound' },
          ],
        },
      ],
      cluster: null,
    });
    expect(await session.preflight({ stagingDir, instances: ['MSSQLSERVER'], ignorePendingFileRename: true })).toEqual({
      stagingFreeBytes: 53_687_091_200,
      systemFreeBytes: 10_737_418_240,
      pendingReboot: ['Windows Update: RebootRequired'],
      installerBusy: false,
      services: [
        { name: 'MSSQLSERVER', state: 'Running' },
        { name: 'SQLSERVERAGENT', state: 'NotFound' },
      ],
      // The folder is there (the test made it), owned by Administrators, writable by them and SYSTEM only.
      stagingFolder: { path: stagingDir, created: false, owner: 'BUILTIN\\Administrators (S-1-5-32-544)', problem: null },
      asrWmiRule: null,
    });
    expect(await session.queryBuild('MSSQLSERVER')).toEqual({
      build: '15.0.4298.1',
      edition: 'Standard Edition (64-bit)',
      productLevel: 'RTM',
      productUpdateLevel: 'CU28',
      source: 'sql',
    });
    expect(session.processId).toBe(processId);
  });

  it('reads the build from the registry when the service is stopped, and says so', async () => {
    writeState({ services: { MSSQLSERVER: 'Stopped' } });
    expect(await session.queryBuild('MSSQLSERVER')).toMatchObject({ build: '15.0.4298.1', source: 'registry' });
    expect(notes).toContain('SQL-LOCAL: MSSQLSERVER: build read from the registry: service MSSQLSERVER is Stopped');
  });

  it("reports an operation's own error with server, operation and reason", async () => {
    const failure = await session.queryBuild('NOPE').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PowerShellOperationError);
    expect(failure).toBeInstanceOf(RemoteOperationError);
    expect((failure as Error).message).toBe('SQL-LOCAL: queryBuild failed: SQL Server instance "NOPE" is not installed on this host (InstanceNotFound)');
  });

  it('stages by copying, verifies the SHA-256, and skips a file already there', async () => {
    const bytes = randomBytes(256 * 1024);
    const local = join(work, 'SQLServer2019-KB5046859-x64.exe');
    writeFileSync(local, bytes);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const request = { localPath: local, fileName: 'SQLServer2019-KB5046859-x64.exe', sha256, sizeBytes: bytes.length, stagingDir };

    const first = await session.stage(request);
    expect(first).toEqual({ remotePath: join(stagingDir, 'SQLServer2019-KB5046859-x64.exe'), sha256, alreadyPresent: false });
    expect(readFileSync(first.remotePath).equals(bytes)).toBe(true);
    expect(await session.stage(request)).toEqual({ ...first, alreadyPresent: true });

    // A damaged copy on the target is replaced.
    writeFileSync(first.remotePath, 'truncated');
    expect(await session.stage(request)).toEqual(first);
    expect(readFileSync(first.remotePath).equals(bytes)).toBe(true);
  });

  it('refuses a staged copy whose hash is not the expected one', async () => {
    const local = join(work, 'other.exe');
    writeFileSync(local, 'the real bytes');
    const request = { localPath: local, fileName: 'other.exe', sha256: 'a'.repeat(64), sizeBytes: 14, stagingDir };
    await expect(session.stage(request)).rejects.toThrow(/^SQL-LOCAL: stage failed: the staged copy .*other\.exe has SHA-256 [0-9a-f]{64}, expected SHA-256 a{64}/);
  });

  it('runs an installer to its exit code with the Summary.txt tail, and never twice for one execution', async () => {
    const runs = join(work, 'runs.txt');
    const remotePath = await stageInstaller(session, 'cu-exit.exe', `echo run >> "${runs}"; touch "${logsDir}/Summary.txt"; exit 42`);
    const request = { executionId: 'run-7.step-1', remotePath, parameters: '/quiet /Action=Patch', timeoutMs: 60_000, setupLogVersion: '150' };

    const result = await session.runInstaller(request);
    expect(result).toMatchObject({ kind: 'exited', exitCode: 42, summaryPath: join(logsDir, 'Summary.txt') });
    expect(result.kind === 'exited' && result.summaryTail).toContain('Exit code (Decimal):           3010');
    expect(await session.installerStatus('run-7.step-1')).toMatchObject({ state: 'finished', exitCode: 42 });
    expect(await session.installerStatus('never-started')).toEqual({ state: 'not_started' });

    expect(await session.runInstaller(request)).toMatchObject({ kind: 'exited', exitCode: 42 });
    expect(readFileSync(runs, 'utf8')).toBe('run\n');
  });

  it("stops the installer's process tree when the step times out", async () => {
    const marker = `302.${Date.now() % 100000}`;
    const remotePath = await stageInstaller(session, 'cu-hang.exe', `"${pwsh}" -NoProfile -NonInteractive -Command "/bin/sleep ${marker}"`);
    const result = await session.runInstaller({ executionId: 'hangs', remotePath, parameters: '', timeoutMs: 2_000 });
    expect(result.kind).toBe('timed_out');
    expect(result.durationMs).toBeGreaterThanOrEqual(2_000);
    expect(processesWith(marker)).toEqual([]);
    expect(await session.installerStatus('hangs')).toMatchObject({ state: 'finished', exitCode: null });
  });

  it('on abort stops waiting only: the installer finishes on the target and its status says so', async () => {
    const remotePath = await stageInstaller(session, 'cu-slow.exe', 'sleep 4; exit 5');
    const controller = new AbortController();
    // Late enough to land while the orchestrator waits (an abort during the start waits for the start).
    setTimeout(() => controller.abort(), 2_500);
    const result = await session.runInstaller({ executionId: 'detach-me', remotePath, parameters: '', timeoutMs: 60_000, signal: controller.signal });
    expect(result.kind).toBe('detached');
    expect(await session.installerStatus('detach-me')).toMatchObject({ state: 'running' });
    const settled = await eventually(
      () => session.installerStatus('detach-me'),
      (status) => status.state === 'finished',
    );
    expect(settled).toMatchObject({ state: 'finished', exitCode: 5 });
  });

  it('reconnects and attaches again when the session dies while an installer runs', async () => {
    const remotePath = await stageInstaller(session, 'cu-reattach.exe', 'sleep 2; exit 9');
    const before = session.processId!;
    setTimeout(() => process.kill(before, 'SIGKILL'), 1_000);
    const result = await session.runInstaller({ executionId: 'reattach', remotePath, parameters: '', timeoutMs: 60_000 });
    expect(result).toMatchObject({ kind: 'exited', exitCode: 9 });
    expect(session.processId).not.toBe(before);
    expect(notes.some((note) => note.startsWith('SQL-LOCAL: session lost while reattach runs'))).toBe(true);
  });
});

describe('the winrm transport when the local PowerShell misbehaves', () => {
  // Long enough for a healthy operation on a busy machine, short enough to wait out a hung one.
  const transport = newTransport({ operationTimeoutMs: 8_000 });
  let session: WinRmHostSession;
  beforeAll(async () => {
    session = (await transport.open({ server: 'SQL-LOCAL' })) as WinRmHostSession;
  });
  afterAll(() => transport.dispose());
  afterEach(() => writeState());

  it('stops an operation that does not answer in time, and reopens the session for the next one', async () => {
    writeState({ behaviour: { 'Get-VolumeFreeBytes': 'hang' } });
    const hung = session.processId;
    await expect(session.preflight({ stagingDir, instances: [], ignorePendingFileRename: false })).rejects.toThrow(
      'SQL-LOCAL: preflight failed: no answer within 8 s; the local PowerShell holding the session was stopped',
    );
    writeState();
    expect((await session.discover()).instances).toHaveLength(1);
    expect(session.processId).not.toBe(hung);
  });

  it('reports a crashed PowerShell as a broken connection, then recovers', async () => {
    writeState({ behaviour: { 'Get-FailoverClusterName': 'crash' } });
    const failure = await session.discover().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ConnectivityError);
    expect((failure as Error).message).toMatch(/^SQL-LOCAL: the local PowerShell holding the session ended unexpectedly \((exit code 7|exit code 137|killed by SIGKILL)\)/);
    writeState();
    expect((await session.discover()).instances).toHaveLength(1);
  });

  it('ignores what a module or surface prints outside the answers', async () => {
    writeState({ behaviour: { 'Get-FailoverClusterName': 'noise' } });
    expect((await session.discover()).cluster).toBeNull();
  });
});

describe('opening a winrm session', () => {
  it('reports an unreachable host as a ConnectivityError without the credential in it', async () => {
    const secret = 'Pa$$w0rd-not-for-logs';
    const transport = new WinRmTransport(
      { powershellPath: pwsh, connectTimeoutMs: 5_000 },
      { resolveCredential: async () => ({ userName: 'CONTOSO\\svc-patch', password: secret }) },
    );
    const failure = await transport.open({ server: '127.0.0.1', port: 1, credential: 'patching' }).catch((error: unknown) => error);
    await transport.dispose();
    expect(failure).toBeInstanceOf(ConnectivityError);
    const message = (failure as Error).message;
    expect(message).toMatch(/^127\.0\.0\.1: cannot open a PowerShell Remoting session \(port 1, kerberos\): .+Enable-PSRemoting -Force.+docs\/winrm\.md$/);
    expect(message).not.toContain(secret);
    expect(String((failure as Error).cause ?? '')).not.toContain(secret);
  });

  it('says when the local PowerShell is missing', async () => {
    const transport = new WinRmTransport({ powershellPath: join(work, 'no-pwsh-here') });
    await expect(transport.open({ server: 'SQL1' })).rejects.toThrow(/^SQL1: PowerShell ".*no-pwsh-here" was not found/);
  });

  it('asks for a named credential before trying CredSSP', async () => {
    const transport = new WinRmTransport({ powershellPath: pwsh, authentication: 'credssp' });
    await expect(transport.open({ server: 'SQL1' })).rejects.toThrow('SQL1: CredSSP authentication needs a named credential');
  });

  it('closes every session process on dispose', async () => {
    const transport = newTransport();
    const session = (await transport.open({ server: 'SQL-A' })) as WinRmHostSession;
    const processId = session.processId!;
    await transport.dispose();
    expect(() => process.kill(processId, 0)).toThrow();
    await expect(session.discover()).rejects.toBeInstanceOf(ConnectivityError);
  });
});
