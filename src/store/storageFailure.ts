// Kept apart from database.ts (which loads the SQLite driver) so the CLI can explain a storage
// failure without loading anything.

/** How long a statement waits for another process's lock on history.db before it fails as busy. */
export const BUSY_TIMEOUT_MS = 10_000;

/** The database was written by a newer version of the tool: this version must not write to it. */
export class NewerSchemaError extends Error {
  constructor(
    readonly found: number,
    readonly known: number,
  ) {
    super(`its schema is version ${found}, newer than this version of autodbaudit knows (${known}); use the newer autodbaudit that wrote it`);
    this.name = 'NewerSchemaError';
  }
}

/**
 * Says in an operator's words why history.db (or the file system under it) refused a statement, or
 * returns null when the error is not one of those: busy past the wait, full disk, read-only, I/O.
 */
export function describeStorageFailure(error: unknown): string | null {
  if (error instanceof NewerSchemaError) return error.message;
  const code = storageCode(error);
  if (code === null) return null;
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    return `it stayed locked by another process for more than ${BUSY_TIMEOUT_MS / 1000} s (another autodbaudit, a report, or a database viewer holding it open); let that finish or close it, then run again`;
  }
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') return 'the disk is full; free some space, then run again';
  if (code === 'SQLITE_READONLY' || code === 'EROFS') return 'it is read-only (file or folder permissions, or a read-only share); make it writable, then run again';
  if (code === 'SQLITE_CANTOPEN' || code === 'EACCES' || code === 'EPERM') return 'it cannot be opened for writing (permissions, or a missing folder); fix that, then run again';
  if (code === 'SQLITE_IOERR' || code === 'EIO') return `the disk reported an input/output error (${code}); check the disk, then run again`;
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') return `it is not a readable SQLite database (${code}); restore it from a backup or move it aside`;
  return null;
}

// SQLite's primary result codes (the low byte of an extended code), as node:sqlite reports them in `errcode`.
const SQLITE_CODES: Readonly<Record<number, string>> = {
  5: 'SQLITE_BUSY',
  6: 'SQLITE_LOCKED',
  8: 'SQLITE_READONLY',
  10: 'SQLITE_IOERR',
  11: 'SQLITE_CORRUPT',
  13: 'SQLITE_FULL',
  14: 'SQLITE_CANTOPEN',
  26: 'SQLITE_NOTADB',
};

/** The primary SQLite code (`SQLITE_BUSY`, …) or file-system code (`ENOSPC`, …) behind an error, if any. */
function storageCode(error: unknown): string | null {
  const e = error as { code?: unknown; errcode?: unknown } | null;
  if (typeof e?.errcode === 'number') return SQLITE_CODES[e.errcode & 0xff] ?? null;
  if (typeof e?.code !== 'string') return null;
  // better-sqlite3 style extended names (SQLITE_BUSY_SNAPSHOT, SQLITE_IOERR_WRITE): their primary part.
  const sqlite = /^SQLITE_[A-Z]+/.exec(e.code);
  if (sqlite) return sqlite[0];
  return e.code;
}
