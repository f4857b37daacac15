import type { Config } from '../config/load.js';
import { CredentialResolver } from './credentials.js';
import type { Transport } from './transport.js';
import { WinRmTransport } from './winrm.js';

/** The winrm transport as audit_config.json `hotfix.winrm` and `hotfix.staging_dir` configure it. */
export async function createWinrmTransport(config: Config, onNote?: (server: string, message: string) => void): Promise<Transport> {
  const winrm = config.settings.winrm;
  const credentials = CredentialResolver.forConfig(config);
  return new WinRmTransport(
    {
      powershellPath: winrm?.powershell_path,
      useSsl: winrm?.use_ssl,
      port: winrm?.port,
      authentication: winrm?.authentication,
      stagingSource: winrm?.staging_source,
      skipCaCheck: winrm?.skip_ca_check,
      stagingDir: config.settings.staging_dir,
    },
    {
      async resolveCredential(name) {
        const credential = await credentials.resolve(name);
        if (credential.password === undefined) {
          throw new Error(`credential ${JSON.stringify(name)} has no password (a key file serves only the ssh transport)`);
        }
        return { userName: credential.userName, password: credential.password };
      },
      onNote,
    },
  );
}
