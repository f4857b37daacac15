import { readableStderr } from './clixml.js';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { CancelledError, ConnectivityError, RemoteOperationError } from '../../errors.js';
import { spawnFailureMessage, spawnPowerShell, stopProcessTree, TailBuffer } from './localPowerShell.js';
import { excerpt, operationErrorSchema } from './operationOutput.js';
import { buildSessionHostScript, encodeOperationArguments } from './operationScript.js';

/**
 * A long-lived local PowerShell that holds one host's PSSession (SessionHost.ps1) and carries out
 * requests one at a time. Requests go to its stdin as base64 lines; answers come back on stdout as
 * lines that start with a random frame token, so anything else a module or the host prints there is
 * told apart and kept only for diagnosis.
 */

export type RemotingAuthentication = 'Kerberos' | 'Negotiate' | 'Credssp';

export type SessionHostRequest =
  | {
      readonly kind: 'connect';
      readonly computerName: string;
      readonly port?: number | undefined;
      readonly useSsl: boolean;
      readonly authentication: RemotingAuthentication;
      readonly skipCaCheck: boolean;
      readonly skipCnCheck: boolean;
      readonly openTimeoutMs: number;
      /** Travels on stdin only; never logged, never on a command line. */
      readonly credential: { readonly userName: string; readonly password: string } | null;
      /** Run operations in the host process itself instead of a PSSession. */
      readonly local: boolean;
    }
  | { readonly kind: 'invoke'; readonly scriptBase64: string; readonly argumentsBase64: string }
  | { readonly kind: 'copy'; readonly localPath: string; readonly remotePath: string }
  | { readonly kind: 'close' };

const answerSchema = z.discriminatedUnion('ok', [
  z.strictObject({
    id: z.number().int().nullable(),
    ok: z.literal(true),
    ready: z.boolean().optional(),
    output: z.string().optional(),
  }),
  z.strictObject({
    id: z.number().int().nullable(),
    ok: z.literal(false),
    error: operationErrorSchema,
    /** State of the PSSession after the failure (`Opened`, `Broken`, …); null without a session. */
    sessionState: z.string().nullable(),
  }),
]);
export type SessionHostAnswer = z.infer<typeof answerSchema>;

export interface SessionHostStartOptions {
  readonly executable: string;
  readonly server: string;
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** How long PowerShell may take to start and say it is ready. */
  readonly startTimeoutMs?: number | undefined;
}

export interface SessionHostRequestOptions {
  /** What the request is for, named in errors (`discover`, `connect`, `copy`). */
  readonly label: string;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

interface PendingRequest {
  readonly id: number;
  readonly resolve: (answer: SessionHostAnswer) => void;
  readonly reject: (error: Error) => void;
}

const DEFAULT_START_TIMEOUT_MS = 60_000;

export class SessionHostProcess {
  private readonly child;
  private readonly frameToken = randomBytes(16).toString('hex');
  private readonly stderr = new TailBuffer(8192);
  private readonly strayOutput = new TailBuffer(4096);
  private stdoutBuffer = '';
  private nextId = 1;
  private pending: PendingRequest | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private ended: Error | null = null;
  private stopping = false;
  private readonly readyWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  private ready = false;

  private constructor(private readonly options: SessionHostStartOptions) {
    this.child = spawnPowerShell(
      options.executable,
      buildSessionHostScript(),
      encodeOperationArguments({ frameToken: this.frameToken }),
      options.env,
    );
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => this.onStdout(chunk));
    this.child.stderr.on('data', (chunk: string) => this.stderr.append(chunk));
    this.child.on('error', (error: NodeJS.ErrnoException) =>
      this.onEnd(new ConnectivityError(options.server, spawnFailureMessage(options.executable, error), { cause: error })),
    );
    this.child.on('close', (code, signal) => {
      const how = signal ? `killed by ${signal}` : `exit code ${code}`;
      this.onEnd(new ConnectivityError(options.server, `the local PowerShell holding the session ended unexpectedly (${how})${this.diagnostics()}`));
    });
  }

  /** Starts the process and waits until it says it is ready. */
  static async start(options: SessionHostStartOptions): Promise<SessionHostProcess> {
    const host = new SessionHostProcess(options);
    const timeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        if (host.ready) resolve();
        else host.readyWaiters.push({ resolve, reject });
        timer = setTimeout(
          () => reject(new ConnectivityError(options.server, `the local PowerShell did not start within ${timeoutMs / 1000} s${host.diagnostics()}`)),
          timeoutMs,
        );
      });
    } catch (error) {
      host.kill();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return host;
  }

  /** The local process id, for diagnostics. */
  get processId(): number | undefined {
    return this.child.pid;
  }

  /** True until the process ends or is stopped. */
  get alive(): boolean {
    return this.ended === null && !this.stopping;
  }

  /** Sends one request and waits for its answer; requests are carried out in the order sent. */
  request(body: SessionHostRequest, options: SessionHostRequestOptions): Promise<SessionHostAnswer> {
    const send = (): Promise<SessionHostAnswer> => this.send(body, options);
    const answer = this.queue.then(send, send);
    this.queue = answer.catch(() => undefined);
    return answer;
  }

  /** Asks the process to close its session and leave; stops it if it does not within the timeout. */
  async close(timeoutMs = 15_000): Promise<void> {
    if (this.alive) {
      try {
        await this.request({ kind: 'close' }, { label: 'close', timeoutMs });
      } catch {
        // A session that cannot be closed politely is stopped below.
      }
    }
    this.stopping = true;
    this.child.stdin.end();
    if (this.ended === null) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          stopProcessTree(this.child);
          resolve();
        }, timeoutMs);
        this.child.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Stops the process at once (and with it the PSSession it held). */
  kill(): void {
    this.stopping = true;
    stopProcessTree(this.child);
  }

  private send(body: SessionHostRequest, options: SessionHostRequestOptions): Promise<SessionHostAnswer> {
    const { server } = this.options;
    return new Promise((resolve, reject) => {
      if (this.ended) return reject(this.ended);
      if (this.stopping) return reject(new ConnectivityError(server, 'the session was closed'));
      if (options.signal?.aborted) return reject(new CancelledError());
      const id = this.nextId++;
      let settled = false;
      const settle = (action: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        if (this.pending?.id === id) this.pending = null;
        action();
      };
      const timer = setTimeout(() => {
        this.kill();
        settle(() =>
          reject(
            new RemoteOperationError(
              server,
              options.label,
              `no answer within ${options.timeoutMs / 1000} s; the local PowerShell holding the session was stopped`,
            ),
          ),
        );
      }, options.timeoutMs);
      // Only stopping the process interrupts a PSSession call; the session is reopened when next needed.
      const onAbort = (): void => {
        this.kill();
        settle(() => reject(new CancelledError()));
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.pending = {
        id,
        resolve: (answer) => settle(() => resolve(answer)),
        reject: (error) => settle(() => reject(error)),
      };
      this.child.stdin.write(`${encodeOperationArguments({ id, ...body })}\n`);
    });
  }

  private onStdout(chunk: string): void {
    this.stdoutBuffer += chunk;
    let newline = this.stdoutBuffer.indexOf('\n');
    while (newline >= 0) {
      const line = this.stdoutBuffer.slice(0, newline).replace(/\r$/, '');
      this.stdoutBuffer = this.stdoutBuffer.slice(newline + 1);
      this.onLine(line);
      newline = this.stdoutBuffer.indexOf('\n');
    }
  }

  private onLine(line: string): void {
    const prefix = `${this.frameToken} `;
    if (!line.startsWith(prefix)) {
      if (line.trim()) this.strayOutput.append(`${line}\n`);
      return;
    }
    let answer: SessionHostAnswer;
    try {
      answer = answerSchema.parse(JSON.parse(line.slice(prefix.length)));
    } catch (error) {
      this.pending?.reject(
        new ConnectivityError(this.options.server, `the local PowerShell answered in an unexpected form: "${excerpt(line.slice(prefix.length))}"`, {
          cause: error,
        }),
      );
      return;
    }
    if (answer.id === 0 && answer.ok && answer.ready) {
      this.ready = true;
      for (const waiter of this.readyWaiters.splice(0)) waiter.resolve();
      return;
    }
    // An answer without an id is about a request the host could not even read: the one in flight.
    if (this.pending && (answer.id === this.pending.id || answer.id === null)) this.pending.resolve(answer);
  }

  private onEnd(error: ConnectivityError): void {
    if (this.ended) return;
    this.ended = error;
    for (const waiter of this.readyWaiters.splice(0)) waiter.reject(error);
    this.pending?.reject(error);
  }

  private diagnostics(): string {
    const parts: string[] = [];
    const stderr = readableStderr(this.stderr.toString()).trim();
    if (stderr) parts.push(`stderr: "${excerpt(stderr)}"`);
    const stray = this.strayOutput.toString().trim();
    if (stray) parts.push(`other output: "${excerpt(stray)}"`);
    return parts.length ? `; ${parts.join('; ')}` : '';
  }
}
