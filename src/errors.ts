/**
 * The few error classes the program raises on purpose. Each carries a code; only src/cli turns them
 * into exit codes and messages.
 */

/** One problem in a user's file, located by file and JSON path. */
export interface ConfigProblem {
  readonly file: string;
  /** JSON path inside the file, e.g. `mappings[2].files[0].order`; empty for the whole file. */
  readonly path: string;
  readonly message: string;
}

export function formatProblem(problem: ConfigProblem): string {
  return problem.path ? `${problem.file}: ${problem.path}: ${problem.message}` : `${problem.file}: ${problem.message}`;
}

/** The configuration is wrong: exit 2, every problem listed. */
export class ConfigError extends Error {
  readonly code = 'CONFIG';
  constructor(
    readonly problems: readonly ConfigProblem[],
    options?: { cause?: unknown },
  ) {
    super(problems.map(formatProblem).join('\n'), options);
    this.name = 'ConfigError';
  }
}

/** The tool refuses to go on (no confirmation, run lock held): exit 2 with the reason. */
export class RefusalError extends Error {
  readonly code = 'REFUSED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RefusalError';
  }
}

/** A host could not be reached or the connection broke. */
export class ConnectivityError extends Error {
  readonly code = 'CONNECTIVITY';
  constructor(
    readonly server: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${server}: ${message}`, options);
    this.name = 'ConnectivityError';
  }
}

/** A remote operation ran but reported an error (the target-side script's error object). */
export class RemoteOperationError extends Error {
  readonly code = 'REMOTE';
  constructor(
    readonly server: string,
    readonly operation: string,
    message: string,
    options?: { cause?: unknown; remoteType?: string },
  ) {
    super(`${server}: ${operation} failed: ${message}`, options);
    this.name = 'RemoteOperationError';
    this.remoteType = options?.remoteType;
  }

  /** The target's own name for the failure (`InstallerStartFailed`, `FileNotFound`, …), when it gave one. */
  readonly remoteType: string | undefined;
}

/**
 * Another process took the run lock over (this one was paused or hung past the heartbeat's
 * staleness): this process starts nothing more and records nothing more; the new owner settles
 * what it left. Exit 5.
 */
export class LockLostError extends Error {
  readonly code = 'LOCK_LOST';
  constructor(
    message = 'this process no longer holds the run lock of history.db: another process took the deployment over (this one was paused or stopped answering for longer than the lock allows); it starts nothing more and records nothing more',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LockLostError';
  }
}

/**
 * history.db, the log folder or the disk under them cannot take the tool's writes (read-only, full,
 * busy past the wait, written by a newer version): exit 2, said plainly, before anything starts.
 */
export class StorageError extends Error {
  readonly code = 'STORAGE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageError';
  }
}

/** The operator cancelled (Ctrl+C, SIGTERM): exit 130. */
export class CancelledError extends Error {
  readonly code = 'CANCELLED';
  constructor(message = 'cancelled by the operator') {
    super(message);
    this.name = 'CancelledError';
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
