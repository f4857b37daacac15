// SFTP staging throughput. Starts an OpenSSH server (sshd) on 127.0.0.1 with keys made for the run,
// stages a ~200 MB installer through the ssh transport's own staging path (ask the target, copy over
// SFTP with fastPut, rename into place, hash on the target), and copies the same file with `scp`
// beside it. Prints MB/s of the SFTP copy alone, of the whole stage() call, and of scp.
//
// Loopback has no latency, so it shows the cost of the client and the server, not of a network: on a
// real link, in-flight data (staging_concurrency × chunk size) is what keeps the pipe full.
//
//   node bench/sftp-staging.mjs [--size-mb 200] [--repeat 3] [--concurrency 8]
//
// Needs sshd, ssh-keygen and scp (openssh-server, openssh-client) and pwsh, which runs the staging
// operations on the "target"; .ci/run installs them.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createServer, connect as connectTcp } from 'node:net';
import { homedir, userInfo } from 'node:os';
import path from 'node:path';
import { removeRoot, tempRoot } from './lib/fleet.mjs';
import { argValue, describeMachine, fixed, machine, median, requireBuild, saveResult, table, verdict } from './lib/report.mjs';

requireBuild();
const { SshTransport } = await import('../dist/remote/ssh.js');
const { createHash } = await import('node:crypto');

const sizeMb = Number(argValue('--size-mb', '200'));
const repeat = Number(argValue('--repeat', '3'));
const concurrency = Number(argValue('--concurrency', '8'));
const SSHD = '/usr/sbin/sshd';

function findPwsh() {
  const candidates = [process.env.PWSH, ...(process.env.PATH ?? '').split(path.delimiter).map((d) => path.join(d, 'pwsh')), path.join(homedir(), '.dotnet', 'tools', 'pwsh')];
  return candidates.find((c) => c && existsSync(c)) ?? null;
}

const pwsh = findPwsh();
if (!existsSync(SSHD) || spawnSync('scp', [], { encoding: 'utf8' }).error || !pwsh) {
  process.stderr.write('sftp-staging needs sshd, scp and pwsh: .ci/run installs them (openssh-server, PowerShell).\n');
  process.exit(2);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port) {
  for (let i = 0; i < 400; i++) {
    const ok = await new Promise((resolve) => {
      const socket = connectTcp({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`sshd did not listen on port ${port}`);
}

function keygen(file) {
  const result = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ssh-keygen: ${result.stderr}`);
}

/** A file of incompressible bytes (a real installer is compressed already). */
function writeInstaller(file, megabytes) {
  const block = randomBytes(1024 * 1024);
  const fd = openSync(file, 'w');
  try {
    for (let i = 0; i < megabytes; i++) writeSync(fd, block);
  } finally {
    closeSync(fd);
  }
}

const m = machine();
console.log(`SFTP staging: a ${sizeMb} MB installer to sshd on 127.0.0.1, ${repeat} runs each`);
console.log(`machine: ${describeMachine(m)}\n`);

const root = tempRoot('sftp');
let sshd = null;
let result;
try {
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true });
  const hostKey = path.join(root, 'host_ed25519');
  const clientKey = path.join(root, 'client_ed25519');
  keygen(hostKey);
  keygen(clientKey);
  writeFileSync(path.join(root, 'authorized_keys'), readFileSync(`${clientKey}.pub`));
  const staging = path.join(root, 'staging');
  mkdirSync(staging);
  const port = await freePort();
  writeFileSync(
    path.join(root, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${path.join(root, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(root, 'authorized_keys')}`,
      'StrictModes no',
      'UsePAM no',
      'PermitRootLogin yes',
      'PasswordAuthentication no',
      'Subsystem sftp internal-sftp',
      // The account's .bashrc stays out of the sessions.
      `SetEnv HOME=${root}`,
      '',
    ].join('\n'),
  );
  sshd = spawn(SSHD, ['-D', '-e', '-f', path.join(root, 'sshd_config')], { stdio: 'ignore' });
  await waitForPort(port);
  const knownHosts = path.join(root, 'known_hosts');
  const hostPublic = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostPublic}\n`);

  const file = path.join(root, 'SQLServer2022-KB5048038-x64.exe');
  writeInstaller(file, sizeMb);
  const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
  const sizeBytes = sizeMb * 1024 * 1024;

  const notes = [];
  const transport = new SshTransport(
    { stagingDir: staging, knownHostsFile: knownHosts, powershell: pwsh, stagingConcurrency: concurrency },
    {
      resolveCredential: async () => ({ name: 'bench', userName: userInfo().username, privateKey: readFileSync(clientKey) }),
      onNote: (_server, note) => notes.push(note),
    },
  );
  const session = await transport.open({ server: '127.0.0.1', port, credential: 'bench' });
  const request = { localPath: file, fileName: path.basename(file), sha256, sizeBytes, stagingDir: staging };
  const stageSeconds = [];
  const copySeconds = [];
  for (let i = 0; i < repeat; i++) {
    rmSync(path.join(staging, request.fileName), { force: true });
    const started = performance.now();
    const staged = await session.stage(request);
    stageSeconds.push((performance.now() - started) / 1000);
    if (staged.alreadyPresent) throw new Error('the file was found staged although it had been removed');
    const copied = /copied over SFTP, [\d.]+ MB in ([\d.]+) s/.exec(notes.at(-1) ?? '');
    if (!copied) throw new Error(`no copy figure in the transport's notes: ${notes.join('; ')}`);
    copySeconds.push(Number(copied[1]));
  }
  const skipStarted = performance.now();
  const skipped = await session.stage(request);
  const skipSeconds = (performance.now() - skipStarted) / 1000;
  if (!skipped.alreadyPresent) throw new Error('the second stage of the same file copied it again');
  await transport.dispose();

  const scp = (legacy) => {
    const seconds = [];
    for (let i = 0; i < repeat; i++) {
      const target = path.join(staging, 'scp-copy.exe');
      rmSync(target, { force: true });
      const started = performance.now();
      const copy = spawnSync(
        'scp',
        [
          ...(legacy ? ['-O'] : []),
          '-q',
          '-i',
          clientKey,
          '-P',
          String(port),
          '-o',
          'BatchMode=yes',
          '-o',
          `UserKnownHostsFile=${knownHosts}`,
          '-o',
          'StrictHostKeyChecking=yes',
          file,
          `${userInfo().username}@127.0.0.1:${target}`,
        ],
        { encoding: 'utf8' },
      );
      if (copy.status !== 0) throw new Error(`scp exited ${copy.status}: ${copy.stderr}`);
      seconds.push((performance.now() - started) / 1000);
    }
    return seconds;
  };
  result = {
    sizeMb,
    concurrency,
    copySeconds: median(copySeconds),
    stageSeconds: median(stageSeconds),
    skipSeconds,
    scpSeconds: median(scp(false)),
    scpLegacySeconds: median(scp(true)),
  };
} finally {
  if (sshd) sshd.kill('SIGKILL');
  removeRoot(root);
}

const rate = (seconds) => fixed(sizeMb / seconds);
console.log(
  table(
    ['copy', 'median s', 'MB/s'],
    [
      [`ssh transport: SFTP copy (fastPut, ${concurrency} requests in flight)`, fixed(result.copySeconds, 2), rate(result.copySeconds)],
      ['ssh transport: stage() whole (ask, copy, rename, hash on target)', fixed(result.stageSeconds, 2), rate(result.stageSeconds)],
      ['ssh transport: stage() of a file already there (hash only)', fixed(result.skipSeconds, 2), '–'],
      ['scp (SFTP protocol, OpenSSH default)', fixed(result.scpSeconds, 2), rate(result.scpSeconds)],
      ['scp -O (legacy SCP protocol)', fixed(result.scpLegacySeconds, 2), rate(result.scpLegacySeconds)],
    ],
  ),
);

const budgets = [
  {
    name: 'SFTP copy of the ssh transport at least half as fast as scp on the same link',
    ok: result.copySeconds <= 2 * result.scpSeconds,
    measured: `${rate(result.copySeconds)} MB/s against scp's ${rate(result.scpSeconds)} MB/s`,
  },
];
console.log('');
for (const b of budgets) console.log(verdict(b));
saveResult({ bench: 'sftp-staging', machine: m, repeat, ...result, budgets });
if (budgets.some((b) => !b.ok)) process.exitCode = 1;
