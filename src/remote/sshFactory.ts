import type { Config } from '../config/load.js';
import { resolveUserPath } from '../config/paths.js';
import { labSurfacesFile } from '../lab/labSurfaces.js';
import { CredentialResolver } from './credentials.js';
import { SshTransport } from './ssh.js';
import type { Transport } from './transport.js';

// The SSH test bed runs every host's sshd on the loopback address, each on its own port.
const TEST_BED_ADDRESS = '127.0.0.1';

/** The ssh transport as audit_config.json `hotfix.ssh`, `hotfix.staging_dir` and `lab` configure it. */
export async function createSshTransport(config: Config, onNote?: (server: string, message: string) => void): Promise<Transport> {
  const ssh = config.settings.ssh;
  const credentials = CredentialResolver.forConfig(config);
  const testBed = config.lab?.sshSurfaces === true;
  return new SshTransport(
    {
      stagingDir: config.settings.staging_dir,
      knownHostsFile: ssh?.known_hosts ? resolveUserPath(config.root, ssh.known_hosts) : undefined,
      trustOnFirstUse: ssh?.trust_on_first_use,
      connectTimeoutMs: ssh ? ssh.connect_timeout_seconds * 1000 : undefined,
      keepaliveMs: ssh ? ssh.keepalive_seconds * 1000 : undefined,
      powershell: ssh?.powershell,
      stagingConcurrency: ssh?.staging_concurrency,
      connectAddress: testBed ? TEST_BED_ADDRESS : undefined,
    },
    {
      resolveCredential: (name) => credentials.resolve(name),
      surfaces: testBed ? [labSurfacesFile()] : undefined,
      onNote,
    },
  );
}
