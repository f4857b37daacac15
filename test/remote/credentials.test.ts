import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { credentialSchema } from '../../src/config/schemas.js';
import { CredentialResolver } from '../../src/remote/credentials.js';
import { writeConfigTree } from '../helpers/configTree.js';
import { requirePwsh } from '../powershell/pwsh.js';
import { runCli } from '../helpers/runCli.js';

const spec = (value: unknown) => credentialSchema.parse(value);

describe('CredentialResolver', () => {
  const root = writeConfigTree({ 'keys/id_test': 'PRIVATE KEY BYTES' });
  const env = { ADA_PW: 'p@ss;$word`', ADA_PASSPHRASE: 'phrase' };
  let prompts = 0;
  const resolver = new CredentialResolver(
    {
      env: spec({ username: 'CONTOSO\\svc', password_env: 'ADA_PW' }),
      missing: spec({ username: 'u', password_env: 'ADA_NOT_SET' }),
      key: spec({ username: 'patcher', key_file: 'keys/id_test', passphrase_env: 'ADA_PASSPHRASE' }),
      badKey: spec({ username: 'patcher', key_file: 'keys/nope' }),
      ask: spec({ username: 'alice', prompt: true }),
    },
    root,
    env,
    async () => {
      prompts++;
      return 'typed-secret';
    },
  );

  it('reads a password from the named environment variable, unchanged', async () => {
    expect(await resolver.resolve('env')).toMatchObject({ userName: 'CONTOSO\\svc', password: 'p@ss;$word`' });
  });

  it('names the variable, not a secret, when it is not set', async () => {
    await expect(resolver.resolve('missing')).rejects.toThrow('credential "missing": environment variable ADA_NOT_SET is not set');
  });

  it('reads a key file relative to the root, with its passphrase', async () => {
    const key = await resolver.resolve('key');
    expect(key.privateKey?.toString()).toBe('PRIVATE KEY BYTES');
    expect(key.passphrase).toBe('phrase');
    await expect(resolver.resolve('badKey')).rejects.toThrow(`key file ${path.join(root, 'keys/nope')} cannot be read (ENOENT)`);
  });

  it('asks once per run for a prompted credential', async () => {
    expect((await resolver.resolve('ask')).password).toBe('typed-secret');
    await resolver.resolve('ask');
    expect(prompts).toBe(1);
  });

  it('refuses a name that is not defined', async () => {
    await expect(resolver.resolve('other')).rejects.toThrow('credential "other" is not defined');
  });
});

describe('the winrm transport, as audit_config.json configures it', () => {
  it('reports each host it cannot reach with the reason, exit 3, and never shows a secret', () => {
    const root = writeConfigTree({
      'config/audit_config.json': {
        schema_version: 1,
        hotfix: {
          transport: 'winrm',
          winrm: { powershell_path: requirePwsh() },
          credentials: { adm: { username: 'CONTOSO\\svc', password_env: 'ADA_SECRET_PW' } },
        },
      },
      'config/hotfix_mapping.json': { schema_version: 1, mappings: [] },
      'config/sql_targets.json': {
        schema_version: 1,
        targets: [
          { server: '127.0.0.1', version: '15.0.4298.1' },
          { server: 'localhost', credential: 'adm', version: '15.0.4298.1' },
        ],
      },
    });
    const secret = 'Sup3r-Secret-Value';
    const result = runCli(['--hotfix-plan', '--json', '--config', path.join(root, 'config/audit_config.json')], { env: { ADA_SECRET_PW: secret } });
    expect(result.code, result.stderr).toBe(3);
    const plan = JSON.parse(result.stdout);
    expect(plan.summary.unreachable).toBe(2);
    expect(plan.targets[0].message).toMatch(/^could not be reached: cannot open a PowerShell Remoting session \(port 5985, kerberos\)/);
    expect(result.stdout + result.stderr).not.toContain(secret);
    expect(readFileSync(path.join(root, 'output/history.db')).includes(Buffer.from(secret))).toBe(false);
  });
});
