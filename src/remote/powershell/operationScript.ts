import { readFileSync } from 'node:fs';
import { readShippedText, shippedFilePath } from '../../shippedFiles.js';

/**
 * Builds the self-contained script text of each target-side operation from the `.ps1` files beside
 * this module: the shared functions (Operation.Common.ps1), a surfaces file (Windows by default), the
 * libraries the operation needs, the operation itself, and one line that calls it. The arguments
 * never enter the text: the script takes them as one parameter, base64 of UTF-8 JSON.
 */

export const OPERATION_NAMES = [
  'probe',
  'discover',
  'preflight',
  'stagedFile',
  'copyFromShare',
  'install',
  'installerStatus',
  'queryBuild',
  'topology',
  'setFailoverMode',
  'failover',
  'moveRole',
  'restart',
  'hostHealth',
] as const;
export type OperationName = (typeof OPERATION_NAMES)[number];

interface OperationDefinition {
  readonly file: string;
  /** The PowerShell function the final line calls; a constant, never data. */
  readonly entryPoint: string;
  readonly libraries: readonly string[];
}

const COMMON_FILE = 'Operation.Common.ps1';
const WINDOWS_SURFACES_FILE = 'Surfaces.Windows.ps1';
const SESSION_HOST_FILE = 'SessionHost.ps1';
const LOCAL_BOOTSTRAP_FILE = 'LocalBootstrap.ps1';

const OPERATIONS: Readonly<Record<OperationName, OperationDefinition>> = {
  probe: { file: 'Probe.ps1', entryPoint: 'Invoke-ProbeOperation', libraries: [] },
  discover: { file: 'Discover.ps1', entryPoint: 'Invoke-DiscoverOperation', libraries: ['SqlInstance.ps1'] },
  preflight: { file: 'Preflight.ps1', entryPoint: 'Invoke-PreflightOperation', libraries: ['SqlInstance.ps1', 'StagingFolder.ps1'] },
  stagedFile: { file: 'StagedFile.ps1', entryPoint: 'Invoke-StagedFileOperation', libraries: ['StagingFolder.ps1'] },
  copyFromShare: { file: 'CopyFromShare.ps1', entryPoint: 'Invoke-CopyFromShareOperation', libraries: ['StagingFolder.ps1'] },
  install: { file: 'Install.ps1', entryPoint: 'Invoke-InstallOperation', libraries: ['InstallerExecution.ps1', 'StagingFolder.ps1'] },
  installerStatus: {
    file: 'InstallerStatus.ps1',
    entryPoint: 'Invoke-InstallerStatusOperation',
    libraries: ['InstallerExecution.ps1'],
  },
  queryBuild: { file: 'QueryBuild.ps1', entryPoint: 'Invoke-QueryBuildOperation', libraries: ['SqlInstance.ps1'] },
  topology: { file: 'Topology.ps1', entryPoint: 'Invoke-TopologyOperation', libraries: [] },
  setFailoverMode: { file: 'AvailabilityChange.ps1', entryPoint: 'Invoke-SetFailoverModeOperation', libraries: [] },
  failover: { file: 'AvailabilityChange.ps1', entryPoint: 'Invoke-FailoverOperation', libraries: [] },
  moveRole: { file: 'AvailabilityChange.ps1', entryPoint: 'Invoke-MoveRoleOperation', libraries: [] },
  restart: { file: 'Restart.ps1', entryPoint: 'Invoke-RestartOperation', libraries: [] },
  hostHealth: { file: 'HostHealth.ps1', entryPoint: 'Invoke-HostHealthOperation', libraries: ['SqlInstance.ps1'] },
};

/** Absolute path of a `.ps1` file shipped beside this module (src/ in development, dist/ when built). */
export function powershellFilePath(fileName: string): string {
  return shippedFilePath(`remote/powershell/${fileName}`);
}

/** Every `.ps1` file the operations are built from, for the parse and compatibility checks. */
export function operationSourceFiles(): string[] {
  const files = new Set<string>([COMMON_FILE, WINDOWS_SURFACES_FILE, SESSION_HOST_FILE, LOCAL_BOOTSTRAP_FILE]);
  for (const definition of Object.values(OPERATIONS)) {
    files.add(definition.file);
    for (const library of definition.libraries) files.add(library);
  }
  return [...files].map(powershellFilePath);
}

const fileTextCache = new Map<string, string>();

/** A surfaces file given by path (the SSH test bed's), or one of this folder's shipped files by name. */
type ScriptSource = { readonly path: string } | { readonly shipped: string };

function readScriptFile(source: ScriptSource): string {
  const key = 'path' in source ? `path:${source.path}` : `shipped:${source.shipped}`;
  let text = fileTextCache.get(key);
  if (text === undefined) {
    const raw = 'path' in source ? readFileSync(source.path, 'utf8') : readShippedText(`remote/powershell/${source.shipped}`);
    // A byte order mark in the middle of the combined script would be read as a stray character.
    text = raw.replace(/^\uFEFF/, '');
    fileTextCache.set(key, text);
  }
  return text;
}

function shipped(fileName: string): ScriptSource {
  return { shipped: fileName };
}

function combine(parts: readonly ScriptSource[], finalLine: string): string {
  return ['param([string]$EncodedArguments)', ...parts.map(readScriptFile), finalLine, ''].join('\n');
}

export interface OperationScriptOptions {
  /**
   * Files that define the surfaces functions, in load order. Default: Surfaces.Windows.ps1. A test bed
   * passes files that answer from a simulated lab instead.
   */
  readonly surfaces?: readonly string[] | undefined;
}

const scriptCache = new Map<string, string>();

/** The script text of one operation; it prints (returns) exactly one line of JSON. */
export function buildOperationScript(operation: OperationName, options: OperationScriptOptions = {}): string {
  const surfaces: ScriptSource[] = options.surfaces?.map((file) => ({ path: file })) ?? [shipped(WINDOWS_SURFACES_FILE)];
  const key = [operation, ...(options.surfaces ?? [])].join('\0');
  let script = scriptCache.get(key);
  if (script === undefined) {
    const definition = OPERATIONS[operation];
    script = combine(
      [
        shipped(COMMON_FILE),
        ...surfaces,
        ...definition.libraries.map(shipped),
        shipped(definition.file),
      ],
      `Invoke-Operation -EncodedArguments $EncodedArguments -EntryPoint '${definition.entryPoint}'`,
    );
    scriptCache.set(key, script);
  }
  return script;
}

/** The script of the long-lived local process that holds one host's PSSession (see SessionHost.ps1). */
export function buildSessionHostScript(): string {
  return combine(
    [shipped(COMMON_FILE), shipped(SESSION_HOST_FILE)],
    'Invoke-SessionHost -EncodedArguments $EncodedArguments',
  );
}

/** The few lines passed with -EncodedCommand that read the real script and its argument from stdin. */
export function localBootstrapScript(): string {
  return readScriptFile(shipped(LOCAL_BOOTSTRAP_FILE));
}

/** Arguments as the operations read them: base64 of UTF-8 JSON. */
export function encodeOperationArguments(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64');
}
