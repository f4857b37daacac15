import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as connectTcp } from 'node:net';
import { homedir, tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LabWorld } from '../../src/lab/world.js';
import { CLI } from './runCli.js';

/**
 * The SSH test bed: one real OpenSSH server (sshd) per simulated host on 127.0.0.1, each on a free
 * port with a host key made for this run, all accepting one client key made for this run. Behind each
 * sshd, sessions run the real operations under the real pwsh; the lab surfaces answer from the lab
 * world, for the host that sshd names with SetEnv. The tests start and stop every process here.
 */

const SSHD = '/usr/sbin/sshd';
/** The lab host CLI as built: sshd's sessions run it with plain node. */
const LAB_HOST_CLI = fileURLToPath(new URL('../../dist/lab/labHostCli.js', import.meta.url));
const SSH_KEYGEN = 'ssh-keygen';

/** Stops with a plain message when sshd is missing: these tests never skip. */
export function requireSshd(): void {
  const keygen = spawnSync(SSH_KEYGEN, ['-?'], { encoding: 'utf8' });
  if (!existsSync(SSHD) || keygen.error) {
    throw new Error(`${SSHD} or ssh-keygen was not found. .ci/run installs openssh-server; the SSH test bed tests do not skip without it.`);
  }
  if (!existsSync(LAB_HOST_CLI) || !existsSync(CLI)) {
    throw new Error('dist/ is missing: run `npm run build` first (npm test builds before it runs the tests).');
  }
}

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function waitForPort(port: number, timeoutMs: number, log: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const socket = connectTcp({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`sshd did not listen on port ${port}: ${existsSync(log) ? readFileSync(log, 'utf8') : ''}`));
        else setTimeout(attempt, 25);
      });
    };
    attempt();
  });
}

/** A process that has not exited (a zombie has: it only waits to be reaped, and holds no socket). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function keygen(file: string, comment: string): void {
  const result = spawnSync(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ssh-keygen failed: ${result.stderr}`);
}

/** Process ids of a process and all its descendants, from /proc (parents before children). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(name)]);
    } catch {
      // Gone meanwhile.
    }
  }
  const tree: number[] = [];
  const pending = [root];
  while (pending.length > 0) {
    const pid = pending.shift()!;
    tree.push(pid);
    pending.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** Live processes whose environment holds `NAME=value` (every process of a bed inherits its SetEnv). */
export function processesWithEnvironment(entry: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z') continue;
      if (readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(entry)) found.push(Number(name));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

export interface BedHost {
  /** The lab world's name for the host (ADA_LAB_HOST); targets use it as their server name. */
  readonly name: string;
  readonly port: number;
  /** `ssh-ed25519 AAAA…` of the host key. */
  readonly publicKey: string;
  /** A staging folder for this host alone. */
  readonly stagingDir: string;
  readonly configFile: string;
  readonly logFile: string;
  process: ChildProcess | null;
  /** Processes killed by kill(): restart() waits until they are gone, so the port is free again. */
  killed: number[];
}

export interface SshTestBedOptions {
  /** The lab world the hosts act on (created by the test). */
  readonly worldFile: string;
  readonly timeScale: number;
  readonly hosts: readonly string[];
}

export class SshTestBed {
  readonly hosts = new Map<string, BedHost>();
  /** The private key authorized on every host. */
  readonly clientKey: string;
  /** A private key no host authorizes. */
  readonly strangerKey: string;
  readonly user = userInfo().username;

  private constructor(
    readonly dir: string,
    private readonly options: SshTestBedOptions,
  ) {
    this.clientKey = path.join(dir, 'client_ed25519');
    this.strangerKey = path.join(dir, 'stranger_ed25519');
  }

  static async start(options: SshTestBedOptions): Promise<SshTestBed> {
    requireSshd();
    // Debian's sshd refuses to start without its privilege separation folder.
    if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true });
    const bed = new SshTestBed(mkdtempSync(path.join(tmpdir(), 'ada-sshbed-')), options);
    try {
      keygen(bed.clientKey, 'autodbaudit-test-client');
      keygen(bed.strangerKey, 'autodbaudit-test-stranger');
      writeFileSync(path.join(bed.dir, 'authorized_keys'), readFileSync(`${bed.clientKey}.pub`));
      for (const name of options.hosts) await bed.addHost(name);
    } catch (error) {
      await bed.stop();
      throw error;
    }
    return bed;
  }

  private async addHost(name: string): Promise<void> {
    const hostDir = path.join(this.dir, name);
    mkdirSync(path.join(hostDir, 'staging'), { recursive: true });
    const hostKey = path.join(hostDir, 'ssh_host_ed25519_key');
    keygen(hostKey, `${name}-host-key`);
    const port = await freePort();
    const configFile = path.join(hostDir, 'sshd_config');
    const home = homedir();
    const environment = [
      // Sessions run the account's shell, and bash run by sshd reads ~/.bashrc: a home of the bed's
      // own keeps whatever the machine's .bashrc does (version managers, prompts) out of the hosts.
      `HOME=${hostDir}`,
      // PowerShell keeps its caches under these; the machine's own keep its start-up fast.
      `XDG_CACHE_HOME=${process.env.XDG_CACHE_HOME ?? path.join(home, '.cache')}`,
      `XDG_DATA_HOME=${process.env.XDG_DATA_HOME ?? path.join(home, '.local', 'share')}`,
      `XDG_CONFIG_HOME=${process.env.XDG_CONFIG_HOME ?? path.join(home, '.config')}`,
      `ADA_LAB_WORLD=${this.options.worldFile}`,
      `ADA_LAB_HOST=${name}`,
      `ADA_LAB_TIME_SCALE=${this.options.timeScale}`,
      `ADA_LAB_NODE=${process.execPath}`,
      `ADA_LAB_CLI=${LAB_HOST_CLI}`,
      ...(process.env.DOTNET_ROOT ? [`DOTNET_ROOT=${process.env.DOTNET_ROOT}`] : []),
    ];
    writeFileSync(
      configFile,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKey}`,
        `PidFile ${path.join(hostDir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${path.join(this.dir, 'authorized_keys')}`,
        // The bed's files live in a temporary folder that sshd's ownership checks would refuse.
        'StrictModes no',
        'UsePAM no',
        'PermitRootLogin yes',
        'PubkeyAuthentication yes',
        'PasswordAuthentication yes',
        'KbdInteractiveAuthentication no',
        'Subsystem sftp internal-sftp',
        `SetEnv ${environment.join(' ')}`,
        'MaxStartups 100',
        'MaxSessions 50',
        'LogLevel VERBOSE',
        '',
      ].join('\n'),
    );
    const host: BedHost = {
      name,
      port,
      publicKey: readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' '),
      stagingDir: path.join(hostDir, 'staging'),
      configFile,
      logFile: path.join(hostDir, 'sshd.log'),
      process: null,
      killed: [],
    };
    this.hosts.set(name, host);
    await this.startSshd(host);
  }

  private async startSshd(host: BedHost): Promise<void> {
    const log = openSync(host.logFile, 'a');
    const child = spawn(SSHD, ['-D', '-e', '-f', host.configFile], { stdio: ['ignore', log, log] });
    host.process = child;
    await waitForPort(host.port, 10_000, host.logFile);
    // Listening must be this sshd, not one that had not died yet.
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`sshd for ${host.name} exited at start: ${existsSync(host.logFile) ? readFileSync(host.logFile, 'utf8') : ''}`);
    }
  }

  host(name: string): BedHost {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`no bed host ${name}`);
    return host;
  }

  /** known_hosts lines for these hosts (all by default), by their names and ports. */
  knownHosts(names: readonly string[] = [...this.hosts.keys()]): string {
    return names.map((name) => `[${name.toLowerCase()}]:${this.host(name).port} ${this.host(name).publicKey}\n`).join('');
  }

  /**
   * Kills a host's sshd and its sessions (the PowerShell processes serving the orchestrator), as a
   * crash of the server's SSH service would. Processes detached from the sessions (an installer and
   * its wrapper) go on.
   */
  kill(name: string): void {
    const host = this.host(name);
    if (host.process?.pid === undefined) return;
    const tree = processTree(host.process.pid);
    killAll(tree);
    host.killed = tree;
    host.process = null;
  }

  /** Starts a killed host's sshd again, on the same port with the same host key. */
  async restart(name: string): Promise<void> {
    const host = this.host(name);
    if (host.process) return;
    // A killed sshd holds its port until the kernel has reaped it; a new one started before then
    // fails to bind while the old socket still accepts for an instant.
    const deadline = Date.now() + 10_000;
    while (host.killed.some(isRunning) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    host.killed = [];
    await this.startSshd(host);
  }

  /**
   * Makes the bed's sshd follow the lab world's restarts, as a rebooting Windows server takes its SSH
   * service down and brings it back: while the world says a host is restarting its sshd is killed
   * (sessions and all), and once the world has it back a new sshd starts on the same port with the
   * same host key. Returns a function that stops following and says what it did per host.
   */
  followRestarts(intervalMs = 50): () => Promise<Map<string, { down: number; up: number }>> {
    const seen = new Map<string, { down: number; up: number }>();
    const downByFollower = new Set<string>();
    let stopped = false;
    let busy: Promise<void> = Promise.resolve();
    const look = async (): Promise<void> => {
      const world = LabWorld.open(this.options.worldFile, [], { timeScale: this.options.timeScale });
      try {
        for (const [name, host] of this.hosts) {
          // host() also brings back a host whose restart has taken its time.
          const row = world.host(name);
          const restarting = row !== undefined && row.restarting_since_ms !== null;
          const counts = seen.get(name) ?? { down: 0, up: 0 };
          if (restarting && host.process) {
            this.kill(name);
            downByFollower.add(name);
            seen.set(name, { ...counts, down: counts.down + 1 });
          } else if (!restarting && downByFollower.has(name)) {
            downByFollower.delete(name);
            await this.restart(name);
            seen.set(name, { ...counts, up: counts.up + 1 });
          }
        }
      } finally {
        world.close();
      }
    };
    const timer = setInterval(() => {
      if (stopped) return;
      busy = busy.then(look).catch((error: unknown) => {
        process.stderr.write(`ssh test bed: following restarts failed: ${String(error)}\n`);
      });
    }, intervalMs);
    return async () => {
      stopped = true;
      clearInterval(timer);
      await busy;
      return seen;
    };
  }

  /** Stops every sshd, session and lab process of the bed, then removes its files unless told to keep them. */
  async stop(options: { readonly keepFiles?: boolean } = {}): Promise<void> {
    for (const name of this.hosts.keys()) this.kill(name);
    // Installers, their wrappers and watchers: detached from the sessions, but they carry the bed's environment.
    for (let round = 0; round < 3; round++) {
      const left = processesWithEnvironment(`ADA_LAB_WORLD=${this.options.worldFile}`);
      if (left.length === 0) break;
      killAll(left);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (!options.keepFiles) rmSync(this.dir, { recursive: true, force: true });
  }
}
