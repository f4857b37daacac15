import type { StagingFolderFacts } from '../remote/transport.js';
import type { LabStagingFolder, LabWorld } from './world.js';

/**
 * The lab's staging folders, judged as the target-side operation judges a real one
 * (src/remote/powershell/StagingFolder.ps1): only SYSTEM and Administrators may own it or write to it.
 * The lab knows accounts by name; these are the SIDs Windows gives the well-known ones.
 */

const WELL_KNOWN_SIDS: Readonly<Record<string, string>> = {
  'nt authority\\system': 'S-1-5-18',
  'builtin\\administrators': 'S-1-5-32-544',
  'builtin\\users': 'S-1-5-32-545',
  everyone: 'S-1-1-0',
  'nt authority\\authenticated users': 'S-1-5-11',
};
const TRUSTED_SIDS = new Set(['S-1-5-18', 'S-1-5-32-544']);

/** A well-known account's SID, or a domain-account-like SID derived from the name (stable per name). */
export function labSidOf(account: string): string {
  const known = WELL_KNOWN_SIDS[account.toLowerCase()];
  if (known) return known;
  let hash = 0;
  for (const ch of account.toLowerCase()) hash = (hash * 31 + ch.charCodeAt(0)) % 100_000;
  return `S-1-5-21-1004336348-1177238915-682003330-${1001 + hash}`;
}

function label(account: string): string {
  return `${account} (${labSidOf(account)})`;
}

/** Why installers must not run from this folder, in the target-side operation's words; null when safe. */
export function labStagingFolderProblem(folder: LabStagingFolder): string | null {
  const problems: string[] = [];
  if (!TRUSTED_SIDS.has(labSidOf(folder.owner))) problems.push(`it is owned by ${label(folder.owner)}, not by SYSTEM or Administrators`);
  const writers = [...new Set(folder.writable_by.filter((w) => !TRUSTED_SIDS.has(labSidOf(w))).map(label))];
  if (writers.length > 0) problems.push(`${writers.join(', ')} can write to it`);
  return problems.length > 0 ? problems.join('; ') : null;
}

/** Pre-flight's view of a lab host's staging folder: created (protected) when missing, judged when there. */
export function labStagingFolderFacts(world: LabWorld, server: string, folderPath: string): StagingFolderFacts {
  const created = world.createStagingFolder(server, folderPath);
  const folder = world.stagingFolder(server)!;
  return { path: folderPath, created, owner: label(folder.owner), problem: labStagingFolderProblem(folder) };
}

/**
 * The security facts Get-DirectorySecurityFacts returns on Windows, for the lab surfaces of the SSH
 * test bed: owner and access rules by SID; null while the folder does not exist.
 */
export function labDirectorySecurity(folder: LabStagingFolder | null): {
  ownerSid: string;
  owner: string;
  isProtected: boolean;
  rules: { sid: string; identity: string; type: string; rights: number; inheritOnly: boolean }[];
} | null {
  if (!folder) return null;
  const fullControl = 0x1f01ff;
  const modify = 0x1301bf;
  const rules = [
    { sid: 'S-1-5-18', identity: 'NT AUTHORITY\\SYSTEM', type: 'Allow', rights: fullControl, inheritOnly: false },
    { sid: 'S-1-5-32-544', identity: 'BUILTIN\\Administrators', type: 'Allow', rights: fullControl, inheritOnly: false },
    ...folder.writable_by.map((w) => ({ sid: labSidOf(w), identity: w, type: 'Allow', rights: modify, inheritOnly: false })),
  ];
  return { ownerSid: labSidOf(folder.owner), owner: folder.owner, isProtected: folder.writable_by.length === 0, rules };
}
