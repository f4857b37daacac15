import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
// A namespace import: an older Node (one that runs npm, not this program) lacks some of these, and
// a named import of a missing export would stop the CLI before it can say which Node it needs.
import * as sea from 'node:sea';
import { fileURLToPath } from 'node:url';

/*
 * The files the program reads at run time besides its code: SQL migrations, PowerShell operations,
 * the build catalog. Each is named by its path under src/ (and dist/), e.g.
 * `store/migrations/0001_initial.sql`. Run from source or dist/ they are files beside the modules;
 * in AutoDBAudit.exe (a Node.js single executable application) they are the executable's assets,
 * stored under the same names by scripts/buildExe.mjs.
 */

/** True in AutoDBAudit.exe. */
export function runningAsExecutable(): boolean {
  return sea.isSea();
}

/** src/ or dist/: the folder this module sits in. */
function programFolder(): string {
  return fileURLToPath(new URL('./', import.meta.url));
}

/** Where a shipped file lies on disk when the program runs from src/ or dist/ (not in the exe). */
export function shippedFilePath(name: string): string {
  return path.join(programFolder(), ...name.split('/'));
}

export function readShippedText(name: string): string {
  if (sea.isSea()) {
    try {
      return sea.getAsset(name, 'utf8');
    } catch (error) {
      throw new Error(`AutoDBAudit.exe carries no file ${name}: ${(error as Error).message}`, { cause: error });
    }
  }
  return readFileSync(shippedFilePath(name), 'utf8');
}

/** The names of the files directly in a shipped folder (`store/migrations`), sorted. */
export function shippedFolderNames(folder: string): string[] {
  const prefix = `${folder}/`;
  if (sea.isSea()) return sea.getAssetKeys().filter((key) => key.startsWith(prefix) && !key.slice(prefix.length).includes('/')).sort();
  const dir = shippedFilePath(folder);
  return readdirSync(dir)
    .filter((name) => statSync(path.join(dir, name)).isFile())
    .sort()
    .map((name) => `${prefix}${name}`);
}
