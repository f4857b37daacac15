import { readdirSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import type { FoundInstaller } from '../catalog/suggestMapping.js';
import { installerFileNameProblem } from '../config/load.js';

export interface HotfixFolderScan {
  readonly installers: readonly FoundInstaller[];
  /** Entries passed over, each naming the entry and why (a link to nothing, a loop, a name the targets refuse). */
  readonly notes: readonly string[];
}

/**
 * Every installer file under `dir` (`<root>/hotfixes`), with its folder written as the mapping writes
 * it (`hotfixes/2019/`). Links are followed, as Windows follows them when it copies a file; a link to
 * nothing, a link loop, a folder reached twice, an entry that is not a file or a folder, and a file
 * name the targets would refuse are passed over with a note instead of stopping the whole search.
 */
export function scanHotfixFolder(dir: string, folder = 'hotfixes/'): HotfixFolderScan {
  const installers: FoundInstaller[] = [];
  const notes: string[] = [];
  walk(dir, folder, new Set([realpathSync(dir)]), installers, notes);
  return { installers, notes };
}

function walk(dir: string, folder: string, searched: Set<string>, installers: FoundInstaller[], notes: string[]): void {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (error) {
    notes.push(`${folder}: cannot be listed (${(error as NodeJS.ErrnoException).code ?? String(error)}); skipped`);
    return;
  }
  for (const name of names) {
    const full = path.join(dir, name);
    const shown = `${folder}${name}`;
    let stat: ReturnType<typeof statSync>;
    try {
      stat = statSync(full);
    } catch (error) {
      notes.push(`${shown}: ${unreadableReason(error as NodeJS.ErrnoException)}; skipped`);
      continue;
    }
    if (stat.isDirectory()) {
      const real = realpathSync(full);
      if (searched.has(real)) {
        notes.push(`${shown}/: a link to a folder already searched; skipped`);
        continue;
      }
      searched.add(real);
      walk(full, `${shown}/`, searched, installers, notes);
    } else if (!stat.isFile()) {
      notes.push(`${shown}: not a regular file (a device, pipe or socket); skipped`);
    } else {
      const problem = installerFileNameProblem(name);
      if (problem) notes.push(`${shown}: ${problem}; skipped`);
      else installers.push({ fileName: name, folder });
    }
  }
}

function unreadableReason(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ENOENT':
      return 'a link to nothing (its target does not exist)';
    case 'ELOOP':
      return 'a link loop (the link leads back to itself)';
    default:
      return `cannot be read (${error.code ?? error.message})`;
  }
}
