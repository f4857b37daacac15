import { z } from 'zod';
import { RemoteOperationError } from '../../errors.js';
import type { OperationName } from './operationScript.js';

/**
 * The arguments each operation takes and the result it returns, checked strictly: an operation that
 * prints anything but one JSON object of the expected shape is an error naming the server and the
 * operation, never a half-understood result.
 */

export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

export interface OperationArguments {
  readonly probe: { readonly echo?: JsonValue | undefined };
  readonly discover: Readonly<Record<string, never>>;
  readonly preflight: {
    readonly stagingDir: string;
    readonly instances: readonly string[];
    readonly ignorePendingFileRename: boolean;
    /** A staged installer whose Authenticode signature is reported. */
    readonly installerPath?: string | undefined;
  };
  readonly stagedFile: {
    readonly stagingDir: string;
    readonly fileName: string;
    /** Hash only a file of this size (any other size cannot match). */
    readonly expectedSizeBytes?: number | undefined;
    readonly createDirectory?: boolean | undefined;
  };
  readonly copyFromShare: { readonly sourcePath: string; readonly stagingDir: string; readonly fileName: string };
  readonly install: {
    readonly stagingDir: string;
    readonly executionId: string;
    readonly installerPath: string;
    readonly parameters: string;
    /** Real time the execution may take, counted on the target from its start. */
    readonly timeoutSeconds: number;
    /** How long this one call waits before it answers `running`. */
    readonly waitSeconds: number;
    readonly setupLogVersion?: string | undefined;
    /** kill_when_safe | leave_running | kill: what the timeout does to the installer. */
    readonly timeoutAction?: string | undefined;
    /** SHA-256 the staged installer must still have when it is started (lower-case hex). */
    readonly sha256?: string | undefined;
    /** scheduled_task | wmi: how the wrapper is started. */
    readonly startMethod?: string | undefined;
  };
  readonly installerStatus: { readonly stagingDir: string; readonly executionId: string };
  readonly queryBuild: { readonly instance: string };
  readonly topology: { readonly instances: readonly string[] };
  readonly setFailoverMode: { readonly instance: string; readonly group: string; readonly replica: string; readonly mode: 'automatic' | 'manual' };
  readonly failover: { readonly instance: string; readonly group: string };
  readonly moveRole: { readonly instance: string; readonly node: string };
  readonly restart: { readonly comment: string };
  readonly hostHealth: { readonly instances: readonly string[] };
}

const nullableText = z.string().nullable();
const serviceStateSchema = z.strictObject({ name: z.string(), state: z.string() });
const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'expected lower-case hex SHA-256');

export const OPERATION_RESULT_SCHEMAS = {
  probe: z.strictObject({
    echo: z.json().nullable(),
    computerName: z.string(),
    powershellVersion: z.string(),
    powershellEdition: z.string(),
  }),
  discover: z.strictObject({
    instances: z.array(
      z.strictObject({
        instance: z.string(),
        instanceId: z.string(),
        build: nullableText,
        sqlservrFileVersion: nullableText,
        setupPatchLevel: nullableText,
        setupVersion: nullableText,
        edition: nullableText,
        productLevel: nullableText,
        clusterVirtualName: nullableText,
        services: z.array(serviceStateSchema),
      }),
    ),
    cluster: nullableText,
  }),
  preflight: z.strictObject({
    stagingFreeBytes: z.number().nonnegative(),
    systemFreeBytes: z.number().nonnegative(),
    pendingReboot: z.array(z.string()),
    installerBusy: z.boolean(),
    services: z.array(serviceStateSchema),
    authenticode: z.strictObject({ status: z.string(), signer: nullableText, statusMessage: z.string() }).nullable(),
    stagingFolder: z.strictObject({ path: z.string(), created: z.boolean(), owner: z.string(), problem: nullableText }),
    asrWmiRule: nullableText,
  }),
  stagedFile: z.strictObject({
    path: z.string(),
    exists: z.boolean(),
    sizeBytes: z.number().int().nonnegative().nullable(),
    sha256: sha256Schema.nullable(),
  }),
  copyFromShare: z.strictObject({ path: z.string(), sizeBytes: z.number().int().nonnegative() }),
  install: z.strictObject({
    executionId: z.string(),
    attached: z.boolean(),
    outcome: z.enum(['exited', 'timed_out', 'running', 'left_running']),
    exitCode: z.number().int().nullable(),
    startedAt: z.string(),
    finishedAt: nullableText,
    durationMs: z.number().nonnegative(),
    summaryPath: nullableText,
    summaryTail: nullableText,
    summaryHead: nullableText,
    leftRunningReason: nullableText,
    /** Where the wrapper extracts the package (/x:) and runs setup.exe; removed when it ends. */
    extractDir: z.string(),
    /** Extraction folders of earlier executions that were over (a crash, a restart) and were removed. */
    staleExtractionsRemoved: z.array(z.string()),
  }),
  installerStatus: z.strictObject({
    state: z.enum(['not_started', 'running', 'finished']),
    startedAt: nullableText,
    finishedAt: nullableText,
    exitCode: z.number().int().nullable(),
    timedOut: z.boolean(),
    abandoned: z.boolean(),
  }),
  queryBuild: z.strictObject({
    build: nullableText,
    edition: nullableText,
    productLevel: nullableText,
    productUpdateLevel: nullableText,
    source: z.enum(['sql', 'registry']),
    fallbackReason: nullableText,
  }),
  topology: z.strictObject({
    instances: z.array(
      z.strictObject({
        instance: z.string(),
        error: nullableText,
        serverName: nullableText,
        hadrEnabled: z.boolean(),
        availabilityGroups: z.array(
          z.strictObject({
            name: z.string(),
            replicas: z.array(
              z.strictObject({
                replicaServerName: z.string(),
                availabilityMode: nullableText,
                failoverMode: nullableText,
                isLocal: z.boolean(),
                role: nullableText,
                connected: z.boolean().nullable(),
                synchronizationState: nullableText,
                failoverReady: z.boolean().nullable(),
              }),
            ),
          }),
        ),
        failoverCluster: z.strictObject({ nodes: z.array(z.string()), owner: z.string() }).nullable(),
      }),
    ),
  }),
  setFailoverMode: z.strictObject({ previous: z.string(), current: z.string(), changed: z.boolean() }),
  failover: z.strictObject({ alreadyPrimary: z.boolean() }),
  moveRole: z.strictObject({ previous: z.string(), current: z.string(), changed: z.boolean() }),
  restart: z.strictObject({ bootTime: z.string(), alreadyUnderWay: z.boolean() }),
  hostHealth: z.strictObject({
    bootTime: z.string(),
    instances: z.array(
      z.strictObject({
        instance: z.string(),
        engineRunning: z.boolean(),
        answering: z.boolean(),
        offlineDatabases: z.array(z.string()),
        problem: nullableText,
      }),
    ),
  }),
} as const satisfies Record<OperationName, z.ZodType>;

export type OperationResult<N extends OperationName> = z.infer<(typeof OPERATION_RESULT_SCHEMAS)[N]>;

/** The error object an operation prints when it fails. */
export const operationErrorSchema = z.strictObject({
  message: z.string(),
  /** A stable name (`FileNotFound`, `InstanceNotFound`, …) or the .NET exception type. */
  type: z.string(),
  /** Line of the combined script where it was raised, for diagnosis. */
  position: nullableText,
});
export type OperationErrorObject = z.infer<typeof operationErrorSchema>;

const envelopeSchema = z.discriminatedUnion('ok', [
  z.strictObject({ ok: z.literal(true), result: z.unknown() }),
  z.strictObject({ ok: z.literal(false), error: operationErrorSchema }),
]);

/** An operation ran on the target and reported an error; `remote` carries its error object. */
export class PowerShellOperationError extends RemoteOperationError {
  constructor(
    server: string,
    operation: string,
    readonly remote: OperationErrorObject,
  ) {
    // Names of .NET exception types (with dots) mean an unexpected failure: the line helps diagnosis.
    const where = remote.type.includes('.') && remote.position ? `; at ${remote.position}` : '';
    super(server, operation, `${remote.message} (${remote.type}${where})`, { remoteType: remote.type });
    this.name = 'PowerShellOperationError';
  }
}

const EXCERPT_LENGTH = 300;

export function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > EXCERPT_LENGTH ? `${flat.slice(0, EXCERPT_LENGTH)}…` : flat;
}

/**
 * Reads what an operation printed: exactly one JSON object, an envelope whose result has the
 * operation's shape. Throws PowerShellOperationError for a reported error and RemoteOperationError
 * for anything else.
 */
export function parseOperationOutput<N extends OperationName>(operation: N, output: string, server: string): OperationResult<N> {
  const trimmed = output.trim();
  if (trimmed === '') throw new RemoteOperationError(server, operation, 'the operation printed nothing (expected one JSON object)');
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch (error) {
    throw new RemoteOperationError(
      server,
      operation,
      `the operation printed something other than one JSON object: "${excerpt(trimmed)}"`,
      { cause: error },
    );
  }
  const envelope = envelopeSchema.safeParse(parsed);
  if (!envelope.success) {
    throw new RemoteOperationError(
      server,
      operation,
      `the operation printed JSON that is not a result envelope (${z.prettifyError(envelope.error)}): "${excerpt(trimmed)}"`,
    );
  }
  if (!envelope.data.ok) throw new PowerShellOperationError(server, operation, envelope.data.error);
  const result = OPERATION_RESULT_SCHEMAS[operation].safeParse(envelope.data.result);
  if (!result.success) {
    throw new RemoteOperationError(
      server,
      operation,
      `the operation returned a result of an unexpected shape: ${z.prettifyError(result.error)}`,
    );
  }
  return result.data as OperationResult<N>;
}
