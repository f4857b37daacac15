import path from 'node:path';

/**
 * Paths in the user's files may be Windows paths (`C:\AutoDBAudit\hotfixes`, `\\fileserver\patches`)
 * even when the tool runs elsewhere, and POSIX paths on Linux. These helpers never hand a Windows
 * path to POSIX path logic.
 */

/** `\\server\share\…` (or with forward slashes). */
export function isUncPath(p: string): boolean {
  return /^[\\/]{2}[^\\/?.][^\\/]*[\\/][^\\/]+/.test(p);
}

/** `C:\…` or `C:/…`. */
export function isWindowsDrivePath(p: string): boolean {
  return /^[A-Za-z]:[\\/]/.test(p);
}

export function isAbsoluteAnywhere(p: string): boolean {
  return isUncPath(p) || isWindowsDrivePath(p) || p.startsWith('/');
}

/** True when a path must be handled with Windows semantics (on Windows, or a drive/UNC path anywhere). */
export function isWindowsStyle(p: string, platform: NodeJS.Platform = process.platform): boolean {
  return platform === 'win32' || isUncPath(p) || isWindowsDrivePath(p);
}

/**
 * Resolves `p` against `base`: absolute and UNC paths are taken as they are, relative ones are joined
 * to base with the separator convention of base.
 */
export function resolveUserPath(base: string, p: string, platform: NodeJS.Platform = process.platform): string {
  if (isAbsoluteAnywhere(p)) return isWindowsStyle(p, platform) ? p : path.posix.normalize(p);
  if (isWindowsStyle(base, platform)) return path.win32.join(base, p);
  return path.posix.join(base, p.replace(/\\/g, '/'));
}

/** Joins a folder and a file name, keeping the folder's convention (UNC and drive paths stay Windows). */
export function joinFolderAndFile(folder: string, fileName: string, platform: NodeJS.Platform = process.platform): string {
  if (folder === '') return fileName;
  if (isWindowsStyle(folder, platform)) return path.win32.join(folder, fileName);
  return path.posix.join(folder.replace(/\\/g, '/'), fileName);
}

/** The file name at the end of a path, whichever separator it uses. */
export function baseName(p: string): string {
  const parts = p.split(/[\\/]/);
  return parts[parts.length - 1] ?? p;
}

/** A path as an operator reads it in a message: relative to the working directory when inside it. */
export function displayPath(absolute: string, cwd: string = process.cwd()): string {
  if (isWindowsStyle(absolute) && process.platform !== 'win32') return absolute;
  const rel = path.relative(cwd, absolute);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : absolute;
}
