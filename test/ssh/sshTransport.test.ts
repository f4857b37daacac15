import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from '../../src/store/sqlite.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectivityError } from '../../src/errors.js';
import { PowerShellOperationError } from '../../src/remote/powershell/operationOutput.js';
import type { SshCredential, SshHostSession } from '../../src/remote/ssh.js';
import { freePort, processTree } from '../helpers/sshTestBed.js';
import { type SshFixture, startSshFixture } from './sshFixture.js';

// The ssh transport's own behaviour over real sshd: host keys, credentials, what the target's shell
// answers, one connection per host, and connections that drop or stop answering.

let fixture: SshFixture;
beforeAll(async () => {
  fixture = await startSshFixture([{ name: 'SSH-A' }, { name: 'SSH-B', simulation: { installers: { 'Slow.exe': { seconds: 1200 } } } }]);
}, 60_000);
afterAll(async () => {
  await fixture?.cleanup();
});

function address(name: string, credential = 'bed') {
  return { server: name, port: fixture.bed.host(name).port, credential };
}

async function refusal(promise: Promise<unknown>): Promise<ConnectivityError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConnectivityError);
  return error as ConnectivityError;
}

function fingerprintOf(publicKey: string): string {
  const blob = Buffer.from(publicKey.split(' ')[1]!, 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Ended between the listing and the signal.
    }
  }
}

function labExecutionStarted(worldFile: string, server: string, executionId: string): boolean {
  const db = new Database(worldFile, { readonly: true });
  try {
    return db.prepare('SELECT 1 FROM lab_executions WHERE server = ? AND execution_id = ?').get(server, executionId) !== undefined;
  } finally {
    db.close();
  }
}

async function until(condition: () => boolean, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${seconds} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function acceptedLogins(name: string): number {
  return readFileSync(fixture.bed.host(name).logFile, 'utf8').split('\n').filter((line) => line.includes('Accepted publickey')).length;
}

describe('host keys', () => {
  it('refuses a host whose key known_hosts does not hold, naming host, port and the SHA-256 fingerprint', async () => {
    const empty = path.join(fixture.work, 'empty_known_hosts');
    writeFileSync(empty, '');
    const before = acceptedLogins('SSH-A');
    const error = await refusal(fixture.transport('SSH-A', { knownHostsFile: empty }).open(address('SSH-A')));
    const host = fixture.bed.host('SSH-A');
    expect(error.server).toBe('SSH-A');
    expect(error.message).toContain(`SSH-A: the host key offered by SSH-A port ${host.port} (ssh-ed25519 key ${fingerprintOf(host.publicKey)}) is not in ${empty}: refusing to connect`);
    expect(error.message).toContain('trust_on_first_use');
    expect(acceptedLogins('SSH-A')).toBe(before);
    expect(readFileSync(empty, 'utf8')).toBe('');
  });

  it('on first use, when configured, records the key and connects; a changed key is refused even then', async () => {
    const file = path.join(fixture.work, 'tofu_known_hosts');
    writeFileSync(file, '');
    const notes: string[] = [];
    const transport = fixture.transport('SSH-A', { knownHostsFile: file, trustOnFirstUse: true }, { onNote: (_server, note) => notes.push(note) });
    const session = await transport.open(address('SSH-A'));
    await transport.dispose();
    const host = fixture.bed.host('SSH-A');
    expect(readFileSync(file, 'utf8')).toBe(`[ssh-a]:${host.port} ${host.publicKey}\n`);
    expect(notes.join('\n')).toContain(`recorded host key ssh-ed25519 key ${fingerprintOf(host.publicKey)}`);
    expect(session.server).toBe('SSH-A');

    // SSH-B's key recorded under SSH-A's name: what a man in the middle would present.
    writeFileSync(file, `[ssh-a]:${host.port} ${fixture.bed.host('SSH-B').publicKey}\n`);
    const error = await refusal(fixture.transport('SSH-A', { knownHostsFile: file, trustOnFirstUse: true }).open(address('SSH-A')));
    expect(error.message).toContain(`HOST KEY CHANGED: SSH-A port ${host.port} offered ssh-ed25519 key ${fingerprintOf(host.publicKey)}`);
    expect(error.message).toContain(`${file} line 1 records ssh-ed25519 key ${fingerprintOf(fixture.bed.host('SSH-B').publicKey)}`);
    expect(readFileSync(file, 'utf8').split('\n').filter(Boolean)).toHaveLength(1);
  });
});

describe('credentials', () => {
  const secret = 'not-the-password-7f3a9c';
  const credentials: Record<string, SshCredential> = {};
  beforeAll(() => {
    const passphraseKey = path.join(fixture.work, 'passphrase_ed25519');
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'key-passphrase', '-f', passphraseKey]);
    credentials.stranger = { name: 'stranger', userName: fixture.bed.user, privateKey: readFileSync(fixture.bed.strangerKey) };
    credentials.password = { name: 'password', userName: fixture.bed.user, password: secret };
    credentials.locked = { name: 'locked', userName: fixture.bed.user, privateKey: readFileSync(passphraseKey) };
  });
  const transport = () => fixture.transport('SSH-A', {}, { resolveCredential: async (name) => credentials[name]! });

  it('reports a key the host does not accept, a wrong password and an unusable key per host, never with the secret', async () => {
    const user = fixture.bed.user;
    const stranger = await refusal(transport().open(address('SSH-A', 'stranger')));
    expect(stranger.message).toContain(`SSH-A: authentication as "${user}" failed: the server refused credential "stranger" (its private key)`);
    expect(stranger.message).toMatch(/the server accepts: .*publickey/);

    const password = await refusal(transport().open(address('SSH-A', 'password')));
    expect(password.message).toContain(`authentication as "${user}" failed: the server refused credential "password" (its password)`);
    expect(password.message).not.toContain(secret);

    const locked = await refusal(transport().open(address('SSH-A', 'locked')));
    expect(locked.message).toMatch(/the private key of credential "locked" cannot be used: .*passphrase/);
    expect(locked.message).not.toContain('key-passphrase');
  });

  it('says plainly when nothing listens on the port', async () => {
    const port = await freePort();
    const error = await refusal(fixture.transport('SSH-A').open({ server: 'SSH-A', port, credential: 'bed' }));
    expect(error.message).toBe(`SSH-A: connection refused at 127.0.0.1 port ${port}: is the OpenSSH server (sshd) running there, and the port open?`);
  });
});

describe('what PowerShell on the target answers', () => {
  it('names a missing PowerShell command and a command that is not PowerShell', async () => {
    const missing = await refusal(fixture.transport('SSH-A', { powershell: '/nonexistent/powershell' }).open(address('SSH-A')));
    expect(missing.message).toContain('SSH-A: the SSH session opened but cannot run operations: SSH-A: probe failed: the PowerShell command "/nonexistent/powershell" was not found on the target (exit 127); set hotfix.ssh.powershell');
    const echo = await refusal(fixture.transport('SSH-A', { powershell: '/bin/echo' }).open(address('SSH-A')));
    expect(echo.message).toContain('probe failed: the operation printed something other than one JSON object: "-NoLogo -NoProfile -NonInteractive -EncodedCommand');
    const failing = await refusal(fixture.transport('SSH-A', { powershell: '/bin/false' }).open(address('SSH-A')));
    expect(failing.message).toContain('probe failed: PowerShell exited with code 1');
  });

  it('runs every operation of a host over one connection, kept for its next session', async () => {
    const before = acceptedLogins('SSH-A');
    const transport = fixture.transport('SSH-A');
    const session = (await transport.open(address('SSH-A'))) as SshHostSession;
    expect(session.powershellVersion).toMatch(/^7\./);
    const short = await session.runScript("param([string]$EncodedArguments) 'short script'", '', { label: 'short', timeoutMs: 30_000 });
    expect(short).toMatchObject({ mode: 'encoded', stdout: 'short script\n', exitCode: 0 });
    await session.close();
    // Planning closes its session, then the deployment opens the host again.
    const again = (await transport.open(address('SSH-A'))) as SshHostSession;
    expect(await again.queryBuild('MSSQLSERVER')).toMatchObject({ build: '15.0.4298.0', source: 'sql' });
    // An operation that ran and failed says so with the target's own error.
    const failed = await again.queryBuild('SALES').then(
      () => null,
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(PowerShellOperationError);
    expect((failed as Error).message).toBe('SSH-A: queryBuild failed: SQL Server instance "SALES" is not installed on this host (InstanceNotFound)');
    await transport.dispose();
    expect(acceptedLogins('SSH-A') - before).toBe(1);
  });
});

describe('connections that break', () => {
  it('ends an operation with a ConnectivityError when sshd dies under it, and reconnects for the next', async () => {
    const transport = fixture.transport('SSH-B');
    const session = (await transport.open(address('SSH-B'))) as SshHostSession;
    const running = session.runScript("param([string]$EncodedArguments) Start-Sleep -Seconds 30; 'late'", '', { label: 'sleep', timeoutMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const started = Date.now();
    fixture.bed.kill('SSH-B');
    const error = await refusal(running);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(error.message).toMatch(/^SSH-B: the SSH connection was lost during sleep: /);
    await fixture.bed.restart('SSH-B');
    expect(await session.installerStatus('never-started')).toEqual({ state: 'not_started' });
    await transport.dispose();
  });

  it('gives up on a connection that stops answering while an installer runs; the installer goes on', async () => {
    const transport = fixture.transport('SSH-B', { keepaliveMs: 300, connectTimeoutMs: 1_000 }, { installPollSeconds: 30, reconnectDelaysMs: [100, 100] });
    const session = await transport.open(address('SSH-B'));
    // The bed's hosts share this machine's disk: the installer is put in place without staging it.
    const remotePath = path.join(fixture.bed.host('SSH-B').stagingDir, 'Slow.exe');
    copyFileSync(fixture.installer('Slow.exe', '2019', '15.0.4395.2', 100), remotePath);
    const install = session.runInstaller({ executionId: 'frozen-1', remotePath, parameters: '/quiet', timeoutMs: 120_000 });
    // Frozen, not dead: the TCP connection stays open and nothing answers, keepalives included.
    await until(() => labExecutionStarted(fixture.worldFile, 'SSH-B', 'frozen-1'), 30);
    const sshd = processTree(fixture.bed.host('SSH-B').process!.pid!);
    signalAll(sshd, 'SIGSTOP');
    const started = Date.now();
    try {
      const error = await refusal(install);
      expect(error.message).toMatch(/^SSH-B: the SSH connection broke and 2 attempts to reconnect failed; last: no SSH session with 127\.0\.0\.1 port \d+ within 1 s/);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      signalAll(sshd, 'SIGCONT');
    }
    expect(await session.installerStatus('frozen-1')).toMatchObject({ state: 'running' });
    await transport.dispose();
  });
});
