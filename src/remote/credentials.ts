import { readFile } from 'node:fs/promises';
import type { Config } from '../config/load.js';
import { resolveUserPath } from '../config/paths.js';
import type { CredentialSpec } from '../config/schemas.js';

/** A named credential with its secret, held in memory only for as long as the transport needs it. */
export interface ResolvedCredential {
  readonly name: string;
  readonly userName: string;
  readonly password?: string | undefined;
  /** Private key text (ssh). */
  readonly privateKey?: Buffer | undefined;
  readonly passphrase?: string | undefined;
}

/** Asks the operator for a secret without echoing it; rejects when there is no terminal. */
export type SecretPrompt = (question: string) => Promise<string>;

export class CredentialError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialError';
  }
}

/**
 * The environment variables that the named credentials read their secrets from and that are not set:
 * a configuration error to report before connecting to anything (not a host "unreachable").
 */
export function missingSecretVariables(
  specs: Readonly<Record<string, CredentialSpec>>,
  names: Iterable<string>,
  env: NodeJS.ProcessEnv = process.env,
): { credential: string; key: 'password_env' | 'passphrase_env'; variable: string }[] {
  const missing: { credential: string; key: 'password_env' | 'passphrase_env'; variable: string }[] = [];
  for (const name of new Set(names)) {
    const spec = specs[name];
    if (!spec) continue;
    if (spec.password_env && env[spec.password_env] === undefined) missing.push({ credential: name, key: 'password_env', variable: spec.password_env });
    if (spec.passphrase_env && env[spec.passphrase_env] === undefined) missing.push({ credential: name, key: 'passphrase_env', variable: spec.passphrase_env });
  }
  return missing;
}

/**
 * Turns credential names from sql_targets.json into accounts and secrets, from the places
 * audit_config.json names: an environment variable, a key file, or a prompt (asked once per run).
 * Error messages name the credential and where its secret should be, never the secret.
 */
export class CredentialResolver {
  private readonly cache = new Map<string, Promise<ResolvedCredential>>();

  constructor(
    private readonly specs: Readonly<Record<string, CredentialSpec>>,
    private readonly root: string,
    private readonly env: NodeJS.ProcessEnv = process.env,
    private readonly prompt: SecretPrompt = promptOnTerminal,
  ) {}

  static forConfig(config: Config): CredentialResolver {
    return new CredentialResolver(config.settings.credentials, config.root);
  }

  resolve(name: string): Promise<ResolvedCredential> {
    let found = this.cache.get(name);
    if (!found) {
      found = this.load(name);
      this.cache.set(name, found);
      // A failed lookup may succeed later (the operator sets the variable); do not keep it.
      found.catch(() => this.cache.delete(name));
    }
    return found;
  }

  private async load(name: string): Promise<ResolvedCredential> {
    const spec = this.specs[name];
    if (!spec) throw new CredentialError(`credential ${JSON.stringify(name)} is not defined in audit_config.json hotfix.credentials`);
    const userName = spec.username ?? '';
    let password: string | undefined;
    if (spec.password_env) {
      password = this.env[spec.password_env];
      if (password === undefined || password === '') {
        throw new CredentialError(`credential ${JSON.stringify(name)}: environment variable ${spec.password_env} is not set`);
      }
    } else if (spec.prompt && !spec.key_file) {
      password = await this.prompt(`Password for ${userName || name} (credential ${name}): `);
    }
    let privateKey: Buffer | undefined;
    let passphrase: string | undefined;
    if (spec.key_file) {
      const keyPath = resolveUserPath(this.root, spec.key_file);
      try {
        privateKey = await readFile(keyPath);
      } catch (error) {
        throw new CredentialError(`credential ${JSON.stringify(name)}: key file ${keyPath} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      if (spec.passphrase_env) {
        passphrase = this.env[spec.passphrase_env];
        if (passphrase === undefined) throw new CredentialError(`credential ${JSON.stringify(name)}: environment variable ${spec.passphrase_env} is not set`);
      } else if (spec.prompt) {
        passphrase = await this.prompt(`Passphrase for key ${keyPath} (credential ${name}): `);
      }
    }
    return { name, userName, password, privateKey, passphrase };
  }
}

/** Reads a line from the terminal with echo off. */
export async function promptOnTerminal(question: string): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) throw new CredentialError(`${question.trim()} needs a terminal to ask on; use password_env instead`);
  process.stderr.write(question);
  input.setRawMode(true);
  input.resume();
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return finish(() => resolve(text));
        if (char === '\u0003') return finish(() => reject(new CredentialError('cancelled at the password prompt')));
        if (char === '\u007f' || char === '\b') text = text.slice(0, -1);
        else text += char;
      }
    };
    const finish = (then: () => void) => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
      then();
    };
    input.on('data', onData);
  });
}
