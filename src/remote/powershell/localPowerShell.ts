import { readableStderr } from './clixml.js';
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { CancelledError, RemoteOperationError } from '../../errors.js';
import {
  excerpt,
  type OperationArguments,
  type OperationResult,
  PowerShellOperationError,
  parseOperationOutput,
} from './operationOutput.js';
import {
  buildOperationScript,
  encodeOperationArguments,
  localBootstrapScript,
  type OperationName,
} from './operationScript.js';

/**
 * Starting a local PowerShell and talking to it. The script and its argument travel on stdin, read
 * by a short bootstrap given with -EncodedCommand, so no command line carries data or secrets and no
 * quoting rule of any shell applies.
 */

/** `powershell.exe` (Windows PowerShell 5.1) on Windows, `pwsh` elsewhere. */
export function defaultPowerShellPath(platform: NodeJS.Platform = process.platform): string {
  return platform === 'win32' ? 'powershell.exe' : 'pwsh';
}

let encodedBootstrap: string | undefined;

/** The PowerShell command-line arguments that run the stdin bootstrap. */
export function powershellArguments(): string[] {
  // -EncodedCommand takes base64 of UTF-16LE.
  encodedBootstrap ??= Buffer.from(localBootstrapScript(), 'utf16le').toString('base64');
  return ['-NoLogo', '-NoProfile', '-NonInteractive', '-EncodedCommand', encodedBootstrap];
}

/**
 * Starts PowerShell on the bootstrap and sends the script and its argument as the first two lines of
 * stdin; stdin stays open for whatever the script reads next.
 */
export function spawnPowerShell(
  executable: string,
  script: string,
  argumentLine: string,
  env?: NodeJS.ProcessEnv | undefined,
): ChildProcessWithoutNullStreams {
  const child = spawn(executable, powershellArguments(), {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: env ?? process.env,
    windowsHide: true,
    // Its own process group on POSIX, so that stopping it also stops what it started.
    detached: process.platform !== 'win32',
  });
  // A child that dies early closes its stdin; the exit handler reports that, not an EPIPE.
  child.stdin.on('error', () => {});
  child.stdin.write(`${Buffer.from(script, 'utf8').toString('base64')}\n${argumentLine}\n`);
  return child;
}

/** Stops a PowerShell started by spawnPowerShell together with every process it started. */
export function stopProcessTree(child: ChildProcessWithoutNullStreams): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  if (process.platform === 'win32') {
    spawnSync('taskkill', ['/pid', String(child.pid), '/T', '/F'], { windowsHide: true });
    return;
  }
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/** Keeps the end of a stream that may grow without bound (stderr of a misbehaving process). */
export class TailBuffer {
  private text = '';
  constructor(private readonly limit: number) {}
  append(chunk: string): void {
    this.text += chunk;
    if (this.text.length > this.limit * 2) this.text = this.text.slice(-this.limit);
  }
  toString(): string {
    return this.text.length > this.limit ? this.text.slice(-this.limit) : this.text;
  }
}

export function spawnFailureMessage(executable: string, error: NodeJS.ErrnoException): string {
  if (error.code === 'ENOENT') {
    return `PowerShell "${executable}" was not found: install PowerShell (pwsh) or set hotfix.winrm.powershell_path`;
  }
  return `PowerShell "${executable}" could not be started: ${error.message}`;
}

export interface PowerShellRunOptions {
  readonly executable: string;
  /** Named in every error message. */
  readonly server: string;
  readonly operation: string;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
}

export interface PowerShellRunOutcome {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number | null;
  readonly exitSignal: NodeJS.Signals | null;
}

const STDOUT_LIMIT = 16 * 1024 * 1024;

/**
 * Runs one script in a fresh PowerShell and collects what it printed. Rejects with RemoteOperationError
 * when PowerShell cannot start, prints too much, or outlives the timeout (its process tree is then
 * stopped), and with CancelledError when the signal aborts.
 */
export function runPowerShellScript(
  script: string,
  argumentLine: string,
  options: PowerShellRunOptions,
): Promise<PowerShellRunOutcome> {
  const { server, operation } = options;
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new CancelledError());
      return;
    }
    const child = spawnPowerShell(options.executable, script, argumentLine, options.env);
    child.stdin.end();
    let stdout = '';
    const stderr = new TailBuffer(8192);
    let failure: Error | null = null;
    const fail = (error: Error): void => {
      failure ??= error;
      stopProcessTree(child);
    };
    const timer = setTimeout(
      () => fail(new RemoteOperationError(server, operation, `PowerShell did not finish within ${options.timeoutMs / 1000} s and was stopped`)),
      options.timeoutMs,
    );
    const onAbort = (): void => fail(new CancelledError());
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      if (stdout.length > STDOUT_LIMIT) fail(new RemoteOperationError(server, operation, `PowerShell printed more than ${STDOUT_LIMIT} characters`));
    });
    child.stderr.on('data', (chunk: string) => stderr.append(chunk));
    child.on('error', (error: NodeJS.ErrnoException) => fail(new RemoteOperationError(server, operation, spawnFailureMessage(options.executable, error), { cause: error })));
    child.on('close', (exitCode, exitSignal) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (failure) reject(failure);
      else resolve({ stdout, stderr: stderr.toString(), exitCode, exitSignal });
    });
  });
}

export interface LocalOperationOptions extends Omit<PowerShellRunOptions, 'operation'> {
  /** Surfaces files to load instead of Surfaces.Windows.ps1. */
  readonly surfaces?: readonly string[] | undefined;
}

/**
 * Runs one target-side operation in a local PowerShell (the admin machine itself, or a test) and
 * returns its checked result.
 */
export async function runOperationLocally<N extends OperationName>(
  operation: N,
  args: OperationArguments[N],
  options: LocalOperationOptions,
): Promise<OperationResult<N>> {
  const script = buildOperationScript(operation, { surfaces: options.surfaces });
  const outcome = await runPowerShellScript(script, encodeOperationArguments(args), { ...options, operation });
  return interpretOutcome(operation, outcome, options.server);
}

/** Turns a finished PowerShell's exit and output into the operation's result or a clear error. */
export function interpretOutcome<N extends OperationName>(
  operation: N,
  outcome: PowerShellRunOutcome,
  server: string,
): OperationResult<N> {
  const stderr = readableStderr(outcome.stderr).trim();
  const stderrNote = stderr ? `; stderr: "${excerpt(stderr)}"` : '';
  if (outcome.exitSignal !== null) {
    throw new RemoteOperationError(server, operation, `PowerShell was killed by ${outcome.exitSignal}${stderrNote}`);
  }
  if (outcome.exitCode !== 0) {
    // A script that printed its error object and then exited non-zero still said what went wrong;
    // any other output of a failed process is not trusted as a result.
    let cause: unknown;
    try {
      parseOperationOutput(operation, outcome.stdout, server);
    } catch (error) {
      if (error instanceof PowerShellOperationError) throw error;
      cause = error;
    }
    const stdoutNote = outcome.stdout.trim() ? `; stdout: "${excerpt(outcome.stdout)}"` : '';
    throw new RemoteOperationError(server, operation, `PowerShell exited with code ${outcome.exitCode}${stderrNote}${stdoutNote}`, {
      cause,
    });
  }
  return parseOperationOutput(operation, outcome.stdout, server);
}
