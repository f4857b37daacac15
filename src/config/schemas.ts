import { z } from 'zod';
import { INSTALLER_START_METHODS, TIMEOUT_ACTIONS, TRANSPORT_NAMES } from '../remote/transport.js';
import { VERSION_FAMILIES } from '../sqlserver/family.js';
import { parseIsoTime } from './isoTime.js';

/**
 * The user's three configuration files, defined once: the code validates with these schemas and the
 * JSON Schema files in schemas/ are generated from them (scripts/writeSchemas.ts).
 * Objects are strict: an unknown key is an error, never silently dropped.
 */

const nonEmpty = z.string().trim().min(1, 'expected a non-empty string');
const buildText = z.string().min(1, 'expected a build such as 15.0.4298.0');
const schemaVersion = z.literal(1, { error: 'expected 1 (the only schema version this tool reads)' });
const jsonSchemaRef = z.string().optional().describe('Path or URL of the JSON Schema, for editors.');

/** The subject of Microsoft's code-signing certificate, which signs SQL Server's cumulative updates. */
export const MICROSOFT_CODE_SIGNING_SUBJECT = 'CN=Microsoft Corporation, O=Microsoft Corporation, L=Redmond, S=Washington, C=US';

// ─── audit_config.json ──────────────────────────────────────────────────────────────────────────

/** A credential names where its secret lives; the secret itself is never in the file. */
export const credentialSchema = z
  .strictObject({
    username: nonEmpty.optional().describe('Account name, e.g. CONTOSO\\svc-patch or admin.'),
    password_env: nonEmpty.optional().describe('Environment variable that holds the password.'),
    key_file: nonEmpty.optional().describe('SSH private key file (ssh transport).'),
    passphrase_env: nonEmpty.optional().describe("Environment variable that holds the key file's passphrase."),
    prompt: z.boolean().optional().describe('Ask for the password on the terminal when first needed.'),
  })
  .describe('A named credential: a reference to an environment variable, a key file or a prompt.');

export const winrmOptionsSchema = z
  .strictObject({
    powershell_path: nonEmpty.optional().describe('Local PowerShell to drive remoting: powershell.exe on Windows, pwsh elsewhere.'),
    use_ssl: z.boolean().default(false).describe('Connect over HTTPS (port 5986 unless port is set).'),
    port: z.number().int().min(1).max(65535).optional(),
    authentication: z.enum(['kerberos', 'negotiate', 'credssp']).default('kerberos'),
    staging_source: z
      .enum(['copy', 'unc'])
      .default('copy')
      .describe('copy: Copy-Item -ToSession from this machine; unc: the target reads the UNC path itself.'),
    skip_ca_check: z.boolean().default(false),
  })
  .describe('PowerShell Remoting (WinRM) options.');

export const sshOptionsSchema = z
  .strictObject({
    known_hosts: nonEmpty.optional().describe('known_hosts file that host keys are verified against (relative to root).'),
    trust_on_first_use: z.boolean().default(false).describe('Accept and record an unknown host key; changed keys are always refused.'),
    connect_timeout_seconds: waitSeconds().default(15),
    keepalive_seconds: waitSeconds().default(15),
    powershell: nonEmpty.default('powershell').describe('PowerShell command on the target (powershell or pwsh).'),
    staging_concurrency: z.number().int().min(1).max(64).default(8),
  })
  .describe('OpenSSH transport options.');

/**
 * A time limit in minutes. At least 0.01 (0.6 s: the lab's tests run installers in fractions of a
 * second) and at most a week: far below the 24.8 days (2^31-1 ms) a Node.js timer can hold, beyond
 * which the timer fires at once, and no real installer or restart needs longer.
 */
export const TIMEOUT_MINUTES = { min: 0.01, max: 10_080 } as const;

export function timeoutMinutes() {
  return z
    .number()
    .min(TIMEOUT_MINUTES.min, `expected at least ${TIMEOUT_MINUTES.min} minutes (0.6 s)`)
    .max(TIMEOUT_MINUTES.max, `expected at most ${TIMEOUT_MINUTES.max} minutes (one week)`);
}

/** A wait in seconds for a connection or keepalive: at least 0.1 s, at most an hour. */
function waitSeconds() {
  return z.number().min(0.1, 'expected at least 0.1 seconds').max(3600, 'expected at most 3600 seconds (one hour)');
}

export const availabilityGroupSettingsSchema = z
  .strictObject({
    failback: z
      .boolean()
      .default(true)
      .describe('After a rolling update, fail each availability group back to the replica that was primary before.'),
    sync_timeout_minutes: timeoutMinutes()
      .default(30)
      .describe('How long a patched replica may take to be back in sync (SYNCHRONIZED; SYNCHRONIZING for an asynchronous-commit replica) before its availability group stops.'),
  })
  .describe('Rolling updates of Always On availability groups.');

const isoTime = z.string().superRefine((v, ctx) => {
  const parsed = parseIsoTime(v);
  if ('problem' in parsed) ctx.addIssue({ code: 'custom', message: parsed.problem });
});

export const maintenanceWindowSchema = z
  .strictObject({
    end: isoTime.describe('When the window closes: no installer starts whose predicted duration would take it past this time.'),
  })
  .describe('The maintenance window of a deployment (also --window-end on the command line, which wins).');

export const waveSchema = z
  .strictObject({
    name: nonEmpty.describe('Names the wave in the log, the plan and history.db.'),
    servers: z.array(nonEmpty).optional().describe('Hosts of this wave (host names as in sql_targets.json).'),
    tags: z.array(nonEmpty).optional().describe("Targets carrying any of these tags put their host in this wave."),
    max_failed: z
      .number()
      .int()
      .nonnegative()
      .default(0)
      .describe('Hosts of this wave that may fail (failed, partial, or skipped for a problem) before the run halts.'),
    soak_minutes: z.number().nonnegative().max(TIMEOUT_MINUTES.max, `expected at most ${TIMEOUT_MINUTES.max} minutes (one week)`).default(0).describe('Time to wait after the wave before its outcome is judged and the next wave starts.'),
  })
  .describe('A wave: its hosts all finish, soak, and pass their failure budget before the next wave starts.');

/** What a run does about restarts: `never` keeps the seed's behaviour (report only). */
export const RESTART_POLICIES = ['never', 'when_required', 'always'] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];

export const hotfixSettingsSchema = z.strictObject({
  mapping: nonEmpty.default('config/hotfix_mapping.json'),
  targets: nonEmpty.default('config/sql_targets.json'),
  output_dir: nonEmpty.default('output'),
  max_concurrent_servers: z.number().int().min(1, 'expected at least 1').max(1000).default(3),
  step_timeout_minutes: timeoutMinutes().default(30),
  transport: z.enum(TRANSPORT_NAMES).default('winrm'),
  staging_dir: nonEmpty
    .default('C:\\ProgramData\\AutoDBAudit\\staging')
    .describe(
      'Folder on the targets for installers, execution records, wrapper scripts and extracted setup files. Created with an ACL that only SYSTEM and Administrators can write; a folder already there with another owner or other writers refuses the host.',
    ),
  min_free_disk_gb: z
    .number()
    .nonnegative()
    .default(6)
    .describe('Free space a host needs on its staging and system drives before patching (at least twice the installers).'),
  ignore_pending_file_rename: z
    .boolean()
    .default(false)
    .describe('Do not treat PendingFileRenameOperations alone as a pending reboot.'),
  require_signed_installers: z
    .boolean()
    .default(true)
    .describe('Refuse to run a staged installer whose Authenticode signature is not Valid (where the target reports one).'),
  timeout_action: z
    .enum(TIMEOUT_ACTIONS)
    .default('kill_when_safe')
    .describe(
      "What a step timeout does: kill_when_safe stops the installer's process tree only outside a Windows Installer transaction and otherwise leaves it running for --resume to settle; leave_running never stops it; kill always does.",
    ),
  installer_start: z
    .enum(INSTALLER_START_METHODS)
    .default('scheduled_task')
    .describe(
      "How targets start setup: scheduled_task runs its wrapper as a one-shot scheduled task as SYSTEM at the highest run level; wmi starts it through Win32_Process.Create as the connected account (the fallback where scheduled tasks are not allowed; Defender's ASR rule for PSExec and WMI blocks it).",
    ),
  allowed_signers: z
    .array(nonEmpty)
    .min(1, 'expected at least one signer subject')
    .default([MICROSOFT_CODE_SIGNING_SUBJECT])
    .describe('Authenticode signer subjects an installer may have; a staged installer signed by anyone else is refused before it runs.'),
  restart: z
    .enum(RESTART_POLICIES)
    .default('never')
    .describe(
      'never: report which hosts need a restart and restart none; when_required: restart a host after patching when setup or the mapping asks for it; always: restart every patched host.',
    ),
  clear_pending_reboot: z
    .boolean()
    .default(false)
    .describe('Restart a host that pre-flight finds with a pending reboot, check it again, then patch it (instead of skipping it).'),
  restart_timeout_minutes: z
    .number()
    .positive('expected a positive number of minutes')
    .default(20)
    .describe('How long a restarted host may take to be reachable again with its instances running, answering and their databases online.'),
  credentials: z.record(z.string(), credentialSchema).default({}),
  availability_groups: availabilityGroupSettingsSchema.default(() => availabilityGroupSettingsSchema.parse({})),
  max_concurrent_staging: z
    .number()
    .int()
    .min(1, 'expected at least 1')
    .max(1000)
    .optional()
    .describe(
      'Installer copies at once (staging), apart from max_concurrent_servers (installs); in a --stage-only run, hosts staged at once. Default: max_concurrent_servers.',
    ),
  default_expected_minutes: z
    .number()
    .positive('expected a positive number of minutes')
    .default(30)
    .describe("Predicted duration of an installer that history.db has never seen and whose mapping file gives no expected_minutes."),
  maintenance_window: maintenanceWindowSchema.optional(),
  waves: z.array(waveSchema).min(1, 'expected at least one wave').optional(),
  winrm: winrmOptionsSchema.optional(),
  ssh: sshOptionsSchema.optional(),
});

export const labSettingsSchema = z.strictObject({
  time_scale: z.number().positive('expected a positive number').default(0.01).describe('Simulated seconds × time_scale = real seconds.'),
  ssh_surfaces: z
    .boolean()
    .default(false)
    .describe(
      'ssh targets are hosts of the SSH test bed: reached on 127.0.0.1 at their port, the operations answered from the lab world by the lab surfaces (src/lab/powershell/Surfaces.Lab.ps1) instead of Windows.',
    ),
});

export const auditConfigSchema = z.strictObject({
  $schema: jsonSchemaRef,
  schema_version: schemaVersion,
  root: nonEmpty.optional().describe('The root folder, relative to this file; default: the folder above it.'),
  hotfix: hotfixSettingsSchema.default(() => hotfixSettingsSchema.parse({})),
  lab: labSettingsSchema.optional(),
});

// ─── sql_targets.json ───────────────────────────────────────────────────────────────────────────

export const labInstallerBehaviourSchema = z.strictObject({
  exit_codes: z.array(z.number().int()).default([]).describe('Consumed one per execution; then 0.'),
  seconds: z.number().nonnegative().optional().describe('Simulated duration, overriding the installer file.'),
  hang: z.boolean().default(false).describe('Never finishes.'),
  no_effect: z.boolean().default(false).describe('Exits as told but changes no build.'),
  msi_transaction: z
    .boolean()
    .default(false)
    .describe('Inside a Windows Installer transaction for its whole run: killing it leaves the instance broken (recorded as instance_broken).'),
});

export const labUnlistedInstanceSchema = z
  .strictObject({
    instance: nonEmpty.describe('Instance name; MSSQLSERVER for the default instance.'),
    version: buildText.describe("The instance's starting build."),
    edition: z.string().optional(),
    agent_state: z.enum(['running', 'stopped', 'absent']).optional().describe('SQL Server Agent of this instance (default running).'),
    engine_state: z.enum(['running', 'stopped']).optional().describe("This instance's database engine service (default running)."),
  })
  .describe('An instance present on the host that no target names: discovery sees it; /AllInstances patches it.');
export const AVAILABILITY_MODES = ['synchronous_commit', 'asynchronous_commit'] as const;
export const FAILOVER_MODES = ['automatic', 'manual'] as const;
export const REPLICA_ROLES = ['primary', 'secondary'] as const;

export const labAvailabilityReplicaSchema = z
  .strictObject({
    name: nonEmpty.describe('The availability group; its replicas are the targets that name it.'),
    role: z.enum(REPLICA_ROLES),
    availability_mode: z.enum(AVAILABILITY_MODES).default('synchronous_commit'),
    failover_mode: z.enum(FAILOVER_MODES).default('manual'),
    resync_seconds: z
      .number()
      .nonnegative()
      .default(60)
      .describe('Simulated seconds this replica takes to be back in sync after it was patched or restarted: SYNCHRONIZED (synchronous commit) or SYNCHRONIZING (asynchronous commit, whose healthy state it is).'),
    never_resyncs: z.boolean().default(false).describe('Stays SYNCHRONIZING for ever after it was patched or restarted.'),
  })
  .describe("This instance's replica of an availability group.");

export const labFailoverClusterSchema = z
  .strictObject({
    nodes: z.array(nonEmpty).min(2, 'expected at least two nodes').describe('The cluster nodes that can own this instance; setup runs on each.'),
    owner: nonEmpty.describe('The node that owns the instance now.'),
  })
  .describe('This target is a failover cluster instance addressed by its virtual name.');

export const labStagingFolderSchema = z.strictObject({
  owner: nonEmpty.default('BUILTIN\\Administrators').describe('Who owns the folder (e.g. LAB\\mallory).'),
  writable_by: z.array(nonEmpty).default([]).describe('Principals besides SYSTEM and Administrators that can write to it (e.g. BUILTIN\\Users).'),
});

export const simulationSchema = z
  .strictObject({
    version: z.string().optional().describe("This instance's starting build."),
    edition: z.string().optional(),
    agent_state: z
      .enum(['running', 'stopped', 'absent'])
      .optional()
      .describe('SQL Server Agent of this instance: running (default), stopped, or absent (Express has no Agent).'),
    engine_state: z.enum(['running', 'stopped']).optional().describe("This instance's database engine service: running (default) or stopped."),
    reachable: z.boolean().optional(),
    free_disk_gb: z.number().nonnegative().optional(),
    pending_reboot: z.boolean().optional(),
    services_running: z.boolean().optional(),
    installer_busy: z.boolean().optional().describe('Windows Installer is busy with another installation.'),
    restart_seconds: z.number().nonnegative().optional().describe('Host: simulated seconds a restart takes until the host is back (default 120).'),
    comes_back: z.boolean().optional().describe('Host: false for a host that never comes back from a restart.'),
    installers: z.record(z.string(), labInstallerBehaviourSchema).optional(),
    unlisted_instances: z.array(labUnlistedInstanceSchema).optional().describe('Host: instances on it that no target names.'),
    asr_wmi_rule: z
      .enum(['block', 'warn', 'audit', 'off'])
      .optional()
      .describe("Host: Defender's ASR rule \"Block process creations originating from PSExec and WMI commands\" in this mode (absent: not configured)."),
    staging_folder: labStagingFolderSchema
      .optional()
      .describe('Host: the staging folder is already there, with this owner and these writers (absent: the tool creates it, protected).'),
    availability_group: z
      .union([labAvailabilityReplicaSchema, z.array(labAvailabilityReplicaSchema).min(1)])
      .optional()
      .describe('The availability group replica this instance holds (a list when it holds replicas of several groups).'),
    failover_cluster: labFailoverClusterSchema.optional(),
  })
  .describe('Lab behaviour of a simulated target (transport "simulated").');

export const targetSchema = z.strictObject({
  server: nonEmpty.describe('Host name or address.'),
  instance: nonEmpty.default('MSSQLSERVER'),
  port: z.number().int().min(1).max(65535).optional(),
  transport: z.enum(TRANSPORT_NAMES).optional(),
  credential: nonEmpty.optional(),
  tags: z.array(nonEmpty).default([]),
  version: z.string().optional().describe('Recorded build, as an audit saw it.'),
  edition: z.string().optional(),
  simulation: simulationSchema.optional(),
});

export const targetsFileSchema = z.strictObject({
  $schema: jsonSchemaRef,
  schema_version: schemaVersion,
  targets: z.array(targetSchema),
});

// ─── hotfix_mapping.json ────────────────────────────────────────────────────────────────────────

export const mappingFileEntrySchema = z.strictObject({
  filename: nonEmpty,
  path: z.string().default('').describe('Folder: relative to root, absolute, or UNC.'),
  order: z.number({ error: 'expected a positive integer' }).int('expected a positive integer').positive('expected a positive integer'),
  required: z.boolean().default(true),
  parameters: z.string().default(''),
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hexadecimal characters')
    .optional()
    .describe('Pins the installer: a different file is refused before anything runs.'),
  description: z.string().optional(),
  expected_minutes: z
    .number()
    .positive('expected a positive number of minutes')
    .optional()
    .describe('Predicted duration of this installer when history.db has no execution of it yet.'),
});

export const mappingSchema = z.strictObject({
  version_family: nonEmpty,
  edition_filter: z.string().nullable().default(null),
  min_build: buildText,
  target_build: buildText,
  description: z.string().default(''),
  files: z.array(mappingFileEntrySchema).min(1, 'expected at least one installer file'),
  requires_restart: z.boolean().default(true),
  notes: z.string().optional(),
});

export const unsupportedVersionSchema = z.strictObject({
  version_family: nonEmpty,
  message: z.string().default('This version is out of support; no cumulative updates are available.'),
});

export const mappingFileSchema = z.strictObject({
  $schema: jsonSchemaRef,
  schema_version: schemaVersion,
  mappings: z.array(mappingSchema),
  unsupported_versions: z.array(unsupportedVersionSchema).default([]),
});

export type AuditConfigFile = z.infer<typeof auditConfigSchema>;
export type HotfixSettings = z.infer<typeof hotfixSettingsSchema>;
export type WaveSpec = z.infer<typeof waveSchema>;
export type CredentialSpec = z.infer<typeof credentialSchema>;
export type WinrmOptionsFile = z.infer<typeof winrmOptionsSchema>;
export type SshOptionsFile = z.infer<typeof sshOptionsSchema>;
export type TargetsFile = z.infer<typeof targetsFileSchema>;
export type TargetEntry = z.infer<typeof targetSchema>;
export type SimulationSpec = z.infer<typeof simulationSchema>;
export type LabInstallerBehaviour = z.infer<typeof labInstallerBehaviourSchema>;
export type LabUnlistedInstance = z.infer<typeof labUnlistedInstanceSchema>;
export type LabAvailabilityReplica = z.infer<typeof labAvailabilityReplicaSchema>;
export type LabFailoverCluster = z.infer<typeof labFailoverClusterSchema>;
export type AvailabilityGroupSettings = z.infer<typeof availabilityGroupSettingsSchema>;
export type AvailabilityMode = (typeof AVAILABILITY_MODES)[number];
export type FailoverMode = (typeof FAILOVER_MODES)[number];
export type ReplicaRole = (typeof REPLICA_ROLES)[number];
export type MappingFile = z.infer<typeof mappingFileSchema>;
export type MappingEntry = z.infer<typeof mappingSchema>;
export type MappingFileEntry = z.infer<typeof mappingFileEntrySchema>;

export { VERSION_FAMILIES };

/** The schemas that become JSON Schema files, by file name. */
export const FILE_SCHEMAS = {
  'audit_config.schema.json': auditConfigSchema,
  'sql_targets.schema.json': targetsFileSchema,
  'hotfix_mapping.schema.json': mappingFileSchema,
} as const;
