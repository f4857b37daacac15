import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { targetSchema } from '../../src/config/schemas.js';
import { labSurfacesFile } from '../../src/lab/labSurfaces.js';
import { LabWorld } from '../../src/lab/world.js';
import { type SshCredential, type SshDependencies, type SshOptions, SshTransport } from '../../src/remote/ssh.js';
import { labInstaller } from '../helpers/configTree.js';
import { SshTestBed } from '../helpers/sshTestBed.js';
import { requirePwsh } from '../powershell/pwsh.js';

/** A lab host for a bed: its name and its `simulation` block (as in sql_targets.json). */
export interface BedHostSpec {
  readonly name: string;
  readonly simulation?: Record<string, unknown>;
}

export interface SshFixture {
  readonly work: string;
  readonly worldFile: string;
  readonly bed: SshTestBed;
  readonly knownHostsFile: string;
  readonly pwsh: string;
  /** Writes a lab installer file and returns its path. */
  installer(name: string, family: string, setsBuild: string, seconds: number): string;
  /** A transport to the bed with the bed's client key as credential "bed". */
  transport(host: string, options?: Partial<SshOptions>, dependencies?: Partial<SshDependencies>): SshTransport;
  cleanup(): Promise<void>;
}

/** A lab world with these hosts and a running bed of sshd for them; `labOnly` hosts are in the world without an sshd. */
export async function startSshFixture(hosts: readonly BedHostSpec[], timeScale = 0.01, labOnly: readonly BedHostSpec[] = []): Promise<SshFixture> {
  const pwsh = requirePwsh();
  const work = mkdtempSync(path.join(tmpdir(), 'ada-ssh-'));
  const worldFile = path.join(work, 'lab', 'world.db');
  const targets = [...hosts, ...labOnly].map((h) =>
    targetSchema.parse({
      server: h.name,
      transport: 'simulated',
      simulation: { version: '15.0.4298.0', edition: 'Standard Edition (64-bit)', ...(h.simulation ?? {}) },
    }),
  );
  LabWorld.open(worldFile, targets, { timeScale }).close();
  const bed = await SshTestBed.start({ worldFile, timeScale, hosts: hosts.map((h) => h.name) });
  const knownHostsFile = path.join(work, 'known_hosts');
  writeFileSync(knownHostsFile, bed.knownHosts());
  const installers = path.join(work, 'installers');
  mkdirSync(installers);
  const key = readFileSync(bed.clientKey);
  const credential: SshCredential = { name: 'bed', userName: bed.user, privateKey: key };
  return {
    work,
    worldFile,
    bed,
    knownHostsFile,
    pwsh,
    installer(name, family, setsBuild, seconds) {
      const file = path.join(installers, name);
      writeFileSync(file, labInstaller(family, setsBuild, seconds));
      return file;
    },
    transport(host, options = {}, dependencies = {}) {
      return new SshTransport(
        { stagingDir: bed.host(host).stagingDir, knownHostsFile, powershell: pwsh, connectAddress: '127.0.0.1', ...options },
        {
          resolveCredential: async (name) => {
            if (name !== 'bed') throw new Error(`credential "${name}" is not defined`);
            return credential;
          },
          surfaces: [labSurfacesFile()],
          installPollSeconds: 2,
          reconnectDelaysMs: [200, 500],
          ...dependencies,
        },
      );
    },
    async cleanup() {
      await bed.stop();
      rmSync(work, { recursive: true, force: true });
    },
  };
}
