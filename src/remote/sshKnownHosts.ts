import { createHash, createHmac } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Host keys checked against an OpenSSH known_hosts file, as `ssh` checks them: plain and hashed
 * (`|1|salt|hash`) host names, `[host]:port` for ports other than 22, wildcards, negated patterns,
 * and `@revoked` lines. `@cert-authority` lines are read but never trust a key (no certificates here).
 */

export interface KnownHostEntry {
  /** 1-based line number in the file, for the operator's message. */
  readonly line: number;
  readonly marker: 'revoked' | 'cert-authority' | null;
  /** The host field as written: comma-separated patterns, or one hashed name. */
  readonly hosts: string;
  readonly keyType: string;
  /** The key blob, base64 as in the file. */
  readonly keyBase64: string;
}

export type HostKeyVerdict =
  /** The offered key is recorded for this host. */
  | { readonly kind: 'known'; readonly line: number }
  /** Nothing is recorded for this host. */
  | { readonly kind: 'unknown' }
  /** The host is recorded with other keys: the offered one is not among them. */
  | { readonly kind: 'changed'; readonly line: number; readonly knownType: string; readonly knownFingerprint: string }
  /** The offered key is marked @revoked. */
  | { readonly kind: 'revoked'; readonly line: number };

/** The entries of a known_hosts file's text; comments, blank and unreadable lines are skipped. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === undefined || fields[0] === '' || fields[0].startsWith('#')) return;
    let marker: KnownHostEntry['marker'] = null;
    if (fields[0].startsWith('@')) {
      const name = fields.shift()!.slice(1).toLowerCase();
      if (name !== 'revoked' && name !== 'cert-authority') return;
      marker = name;
    }
    const [hosts, keyType, keyBase64] = fields;
    if (!hosts || !keyType || !keyBase64) return;
    entries.push({ line: index + 1, marker, hosts, keyType, keyBase64 });
  });
  return entries;
}

/** The name known_hosts records a host under: `host`, or `[host]:port` when the port is not 22. */
export function knownHostsName(host: string, port: number): string {
  const lower = host.toLowerCase();
  return port === 22 ? lower : `[${lower}]:${port}`;
}

/** OpenSSH's wildcard match: `*` any run of characters, `?` one character, case-insensitive. */
function wildcardMatch(pattern: string, text: string): boolean {
  const source = pattern
    .toLowerCase()
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`).test(text);
}

function hashedNameMatches(hashed: string, name: string): boolean {
  const [, magic, salt, hash] = hashed.split('|');
  if (magic !== '1' || !salt || !hash) return false;
  const digest = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
  return digest === hash;
}

/** Whether an entry's host field names this host and port. */
export function entryMatches(entry: KnownHostEntry, host: string, port: number): boolean {
  const name = knownHostsName(host, port);
  if (entry.hosts.startsWith('|')) return hashedNameMatches(entry.hosts, name);
  let matched = false;
  for (const pattern of entry.hosts.split(',')) {
    if (pattern.startsWith('!')) {
      // A negated pattern that matches rules the whole line out, whatever else matches.
      if (wildcardMatch(pattern.slice(1), name)) return false;
    } else if (wildcardMatch(pattern, name)) matched = true;
  }
  return matched;
}

/** `SHA256:…` as `ssh-keygen -lf` prints it: unpadded base64 of the key blob's SHA-256. */
export function fingerprintSha256(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named inside an SSH public key blob (`ssh-ed25519`, `ssh-rsa`, …). */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const length = keyBlob.readUInt32BE(0);
  if (length <= 0 || length > 64 || keyBlob.length < 4 + length) return 'unknown';
  return keyBlob.subarray(4, 4 + length).toString('ascii');
}

/** Compares the key a host offers with what the file records for that host and port. */
export function checkHostKey(entries: readonly KnownHostEntry[], host: string, port: number, keyBlob: Buffer): HostKeyVerdict {
  const offered = keyBlob.toString('base64');
  const forHost = entries.filter((entry) => entryMatches(entry, host, port));
  const revoked = forHost.find((entry) => entry.marker === 'revoked' && entry.keyBase64 === offered);
  if (revoked) return { kind: 'revoked', line: revoked.line };
  const plain = forHost.filter((entry) => entry.marker === null);
  const known = plain.find((entry) => entry.keyBase64 === offered);
  if (known) return { kind: 'known', line: known.line };
  // A recorded key of the offered type that differs is the classic changed key; a host recorded only
  // with other types offering a new one is refused too, since nothing vouches for the new key.
  const offeredType = keyTypeOf(keyBlob);
  const other = plain.find((entry) => entry.keyType === offeredType) ?? plain[0];
  if (!other) return { kind: 'unknown' };
  return {
    kind: 'changed',
    line: other.line,
    knownType: other.keyType,
    knownFingerprint: fingerprintSha256(Buffer.from(other.keyBase64, 'base64')),
  };
}

/** Key types recorded for a host, so the client can ask the server for one it can compare. */
export function knownKeyTypes(entries: readonly KnownHostEntry[], host: string, port: number): string[] {
  const types = entries.filter((entry) => entry.marker === null && entryMatches(entry, host, port)).map((entry) => entry.keyType);
  return [...new Set(types)];
}

/** Reads the file; a missing file holds no entries. */
export function readKnownHosts(file: string): KnownHostEntry[] {
  if (!existsSync(file)) return [];
  return parseKnownHosts(readFileSync(file, 'utf8'));
}

/** The line trust-on-first-use appends: `[host]:port type base64`. */
export function knownHostsLine(host: string, port: number, keyBlob: Buffer): string {
  return `${knownHostsName(host, port)} ${keyTypeOf(keyBlob)} ${keyBlob.toString('base64')}`;
}

/**
 * Records a host key. One append of one line: concurrent connections to several new hosts each add
 * their own line without overwriting another's.
 */
export function appendKnownHost(file: string, host: string, port: number, keyBlob: Buffer): void {
  mkdirSync(path.dirname(file), { recursive: true });
  let prefix = '';
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8');
    if (text.length > 0 && !text.endsWith('\n')) prefix = '\n';
  }
  appendFileSync(file, `${prefix}${knownHostsLine(host, port, keyBlob)}\n`, { mode: 0o600 });
}
