import { createHash, createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  appendKnownHost,
  checkHostKey,
  entryMatches,
  fingerprintSha256,
  keyTypeOf,
  knownKeyTypes,
  parseKnownHosts,
  readKnownHosts,
} from '../../src/remote/sshKnownHosts.js';

/** An ed25519 public key blob as SSH sends it: string "ssh-ed25519", string key. */
function ed25519Blob(): Buffer {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const type = Buffer.from('ssh-ed25519');
  const blob = Buffer.alloc(4 + type.length + 4 + raw.length);
  blob.writeUInt32BE(type.length, 0);
  type.copy(blob, 4);
  blob.writeUInt32BE(raw.length, 4 + type.length);
  raw.copy(blob, 8 + type.length);
  return blob;
}

function hashedName(name: string): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

const key = ed25519Blob();
const other = ed25519Blob();
const b64 = (blob: Buffer) => blob.toString('base64');
const work = mkdtempSync(path.join(tmpdir(), 'ada-known-hosts-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('known_hosts', () => {
  it('reads the key type from the blob and prints the fingerprint as ssh-keygen -l does', () => {
    expect(keyTypeOf(key)).toBe('ssh-ed25519');
    expect(fingerprintSha256(key)).toBe(`SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`);
    expect(fingerprintSha256(key)).not.toMatch(/=$/);
  });

  it('matches names as OpenSSH does: [host]:port off port 22, lists, wildcards, negation, hashed names, any case', () => {
    const entries = parseKnownHosts(
      [
        '# a comment',
        '',
        `sql1,sql1.contoso.com ssh-ed25519 ${b64(key)}`,
        `[sql2]:2222 ssh-ed25519 ${b64(key)}`,
        `*.lab.contoso.com,!bad.lab.contoso.com ssh-ed25519 ${b64(key)}`,
        `${hashedName('[sql3]:2200')} ssh-ed25519 ${b64(key)} hashed`,
        '@cert-authority *.contoso.com ssh-ed25519 AAAA',
        'garbage',
      ].join('\n'),
    );
    expect(entries.map((e) => e.line)).toEqual([3, 4, 5, 6, 7]);
    const [plain, ported, wildcard, hashed] = entries;
    expect(entryMatches(plain!, 'SQL1', 22)).toBe(true);
    expect(entryMatches(plain!, 'sql1.contoso.com', 22)).toBe(true);
    expect(entryMatches(plain!, 'sql1', 2222)).toBe(false);
    expect(entryMatches(ported!, 'sql2', 2222)).toBe(true);
    expect(entryMatches(ported!, 'sql2', 22)).toBe(false);
    expect(entryMatches(wildcard!, 'db7.lab.contoso.com', 22)).toBe(true);
    expect(entryMatches(wildcard!, 'bad.lab.contoso.com', 22)).toBe(false);
    expect(entryMatches(hashed!, 'Sql3', 2200)).toBe(true);
    expect(entryMatches(hashed!, 'sql3', 22)).toBe(false);
  });

  it('says known, unknown, changed or revoked', () => {
    const entries = parseKnownHosts(
      [`sql1 ssh-ed25519 ${b64(key)}`, `sql2 ssh-ed25519 ${b64(other)}`, `@revoked sql4 ssh-ed25519 ${b64(key)}`, `sql4 ssh-ed25519 ${b64(key)}`].join('\n'),
    );
    expect(checkHostKey(entries, 'sql1', 22, key)).toEqual({ kind: 'known', line: 1 });
    expect(checkHostKey(entries, 'sql3', 22, key)).toEqual({ kind: 'unknown' });
    expect(checkHostKey(entries, 'sql2', 22, key)).toEqual({
      kind: 'changed',
      line: 2,
      knownType: 'ssh-ed25519',
      knownFingerprint: fingerprintSha256(other),
    });
    expect(checkHostKey(entries, 'sql4', 22, key)).toEqual({ kind: 'revoked', line: 3 });
    // A host recorded with another key type is not a new host: nothing vouches for the key offered.
    const rsaOnly = parseKnownHosts(`sql5 ssh-rsa ${b64(other)}`);
    expect(checkHostKey(rsaOnly, 'sql5', 22, key).kind).toBe('changed');
    expect(knownKeyTypes(rsaOnly, 'sql5', 22)).toEqual(['ssh-rsa']);
  });

  it('records a host on first use with one appended line, and then knows it', () => {
    const file = path.join(work, 'nested', 'known_hosts');
    appendKnownHost(file, 'SQL9', 2022, key);
    writeFileSync(file, `${readFileSync(file, 'utf8')}sql10 ssh-ed25519 ${b64(other)}`);
    appendKnownHost(file, 'sql11', 22, other);
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines[0]).toBe(`[sql9]:2022 ssh-ed25519 ${b64(key)}`);
    expect(lines[2]).toBe(`sql11 ssh-ed25519 ${b64(other)}`);
    expect(checkHostKey(readKnownHosts(file), 'sql9', 2022, key)).toEqual({ kind: 'known', line: 1 });
    expect(readKnownHosts(path.join(work, 'missing'))).toEqual([]);
  });
});
