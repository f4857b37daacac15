import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import type { z } from 'zod';
import type { ConfigProblem } from '../errors.js';
import { compareBuilds, parseBuild } from '../sqlserver/buildNumber.js';
import { isVersionFamily, normalizeFamilyName, VERSION_FAMILIES } from '../sqlserver/family.js';
import { readBoundedText } from './boundedFile.js';
import { labTopologyProblems } from './labTopology.js';
import { displayPath, resolveUserPath } from './paths.js';
import { lineAndColumn, problemsFromZod } from './problems.js';
import {
  type AuditConfigFile,
  auditConfigSchema,
  type HotfixSettings,
  type MappingFile,
  mappingFileSchema,
  type TargetEntry,
  type TargetsFile,
  targetsFileSchema,
} from './schemas.js';

/** Everything the tool reads from the user's files, validated, with paths resolved. */
export interface Config {
  /** The root folder that relative paths resolve against. */
  readonly root: string;
  readonly files: { readonly auditConfig: string; readonly mapping: string; readonly targets: string };
  readonly settings: HotfixSettings;
  /** Null when audit_config.json has no `lab` block. */
  readonly lab: {
    readonly timeScale: number;
    /** ssh targets are SSH test-bed hosts on 127.0.0.1 whose Windows-only surfaces the lab answers. */
    readonly sshSurfaces: boolean;
  } | null;
  readonly outputDir: string;
  readonly historyDbPath: string;
  readonly mapping: MappingFile;
  readonly targets: readonly TargetEntry[];
  /** Things worth saying that do not stop the tool. */
  readonly warnings: readonly string[];
}

export type LoadResult = { ok: true; config: Config } | { ok: false; problems: ConfigProblem[] };

/**
 * Reads and validates the three files. Never throws on a user's mistake: every problem found is
 * returned, with file and JSON path, so the operator can fix them all at once.
 */
export function loadConfig(auditConfigPath: string, cwd: string = process.cwd()): LoadResult {
  const auditPath = path.resolve(cwd, auditConfigPath);
  const auditName = displayPath(auditPath, cwd);
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];

  const audit = readJsonFile(auditPath, auditName, auditConfigSchema, problems, true, (raw) =>
    embeddedSecretProblems(auditName, raw),
  );
  if (!audit) return { ok: false, problems };
  problems.push(...credentialProblems(auditName, audit));
  problems.push(...waveProblems(auditName, audit));

  const configDir = path.dirname(auditPath);
  const root = audit.root ? resolveUserPath(configDir, audit.root) : path.dirname(configDir);
  const settings = audit.hotfix;
  const mappingPath = resolveUserPath(root, settings.mapping);
  const targetsPath = resolveUserPath(root, settings.targets);
  const mappingName = displayPath(mappingPath, cwd);
  const targetsName = displayPath(targetsPath, cwd);

  const mapping = readJsonFile(mappingPath, mappingName, mappingFileSchema, problems, true);
  if (mapping) problems.push(...mappingProblems(mappingName, mapping));

  let targets: TargetEntry[] = [];
  if (existsSync(targetsPath)) {
    const targetsFile = readJsonFile(targetsPath, targetsName, targetsFileSchema, problems, true);
    if (targetsFile) {
      problems.push(...targetProblems(targetsName, targetsFile, settings));
      problems.push(...labTopologyProblems(targetsName, targetsFile));
      targets = targetsFile.targets;
    }
  } else {
    warnings.push(`${targetsName}: not found; targets come from the servers table in history.db only`);
  }

  if (problems.length > 0 || !mapping) return { ok: false, problems };
  const outputDir = resolveUserPath(root, settings.output_dir);
  return {
    ok: true,
    config: {
      root,
      files: { auditConfig: auditPath, mapping: mappingPath, targets: targetsPath },
      settings,
      lab: audit.lab ? { timeScale: audit.lab.time_scale, sshSurfaces: audit.lab.ssh_surfaces } : null,
      outputDir,
      historyDbPath: resolveUserPath(outputDir, 'history.db'),
      mapping,
      targets,
      warnings,
    },
  };
}

function readJsonFile<S extends z.ZodType>(
  absolute: string,
  name: string,
  schema: S,
  problems: ConfigProblem[],
  required: boolean,
  precheck?: (raw: unknown) => ConfigProblem[],
): z.infer<S> | null {
  let text: string;
  try {
    const read = readBoundedText(absolute, 'a configuration file');
    if (typeof read !== 'string') {
      problems.push({ file: name, path: '', message: read.problem });
      return null;
    }
    text = read;
  } catch (error) {
    if (required) {
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `cannot be read (${String(error)})`;
      problems.push({ file: name, path: '', message: reason });
    }
    return null;
  }
  let data: unknown;
  try {
    data = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    problems.push({ file: name, path: '', message: `not valid JSON: ${describeSyntaxError(text, error)}` });
    return null;
  }
  // A precheck can explain a mistake better than the schema: its problems replace the schema's at the same path.
  const explained = precheck?.(data) ?? [];
  problems.push(...explained);
  const parsed = schema.safeParse(data, { reportInput: true });
  if (!parsed.success) {
    const explainedPaths = new Set(explained.map((p) => p.path));
    problems.push(...problemsFromZod(name, parsed.error).filter((p) => !explainedPaths.has(p.path)));
    return null;
  }
  return explained.length > 0 ? null : parsed.data;
}

function describeSyntaxError(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const position = /position (\d+)/.exec(message);
  if (!position?.[1]) return message;
  const { line, column } = lineAndColumn(text, Number(position[1]));
  return `${message.replace(/ in JSON at position \d+.*$/, '')} at line ${line}, column ${column}`;
}

// Keys that would mean a secret sits in the file itself.
const SECRET_KEYS = ['password', 'passphrase', 'secret', 'pwd'];

function credentialProblems(file: string, audit: AuditConfigFile): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const [name, credential] of Object.entries(audit.hotfix.credentials)) {
    const at = `hotfix.credentials.${name}`;
    const sources = [credential.password_env, credential.key_file, credential.prompt ? true : undefined].filter(
      (s) => s !== undefined,
    );
    if (sources.length === 0) {
      problems.push({ file, path: at, message: 'names no secret source: set password_env, key_file or prompt: true' });
    }
    if (credential.password_env && credential.prompt) {
      problems.push({ file, path: at, message: 'sets both password_env and prompt; choose one' });
    }
    if (credential.passphrase_env && !credential.key_file) {
      problems.push({ file, path: `${at}.passphrase_env`, message: 'a passphrase needs a key_file' });
    }
  }
  return problems;
}

/** Waves: distinct names, and only the last may take the rest (no servers, no tags). */
function waveProblems(file: string, audit: AuditConfigFile): ConfigProblem[] {
  const waves = audit.hotfix.waves ?? [];
  const problems: ConfigProblem[] = [];
  const names = new Map<string, number>();
  waves.forEach((wave, i) => {
    const at = `hotfix.waves[${i}]`;
    const earlier = names.get(wave.name.toLowerCase());
    if (earlier !== undefined) problems.push({ file, path: `${at}.name`, message: `wave name ${JSON.stringify(wave.name)} is also used by hotfix.waves[${earlier}]` });
    else names.set(wave.name.toLowerCase(), i);
    const takesRest = wave.servers === undefined && wave.tags === undefined;
    if (takesRest && i < waves.length - 1) {
      problems.push({ file, path: at, message: 'names no servers and no tags, so it takes every remaining host: only the last wave may do that' });
    }
    if (!takesRest && (wave.servers ?? []).length === 0 && (wave.tags ?? []).length === 0) {
      problems.push({ file, path: at, message: 'has empty servers and tags lists, so no host falls in it; name hosts or tags, or leave both out in the last wave' });
    }
  });
  return problems;
}

/** Finds credentials that embed a secret before schema validation, to say so plainly. */
export function embeddedSecretProblems(file: string, raw: unknown): ConfigProblem[] {
  const credentials = (raw as { hotfix?: { credentials?: unknown } } | null)?.hotfix?.credentials;
  if (!credentials || typeof credentials !== 'object') return [];
  const problems: ConfigProblem[] = [];
  for (const [name, value] of Object.entries(credentials as Record<string, unknown>)) {
    if (typeof value === 'string') {
      problems.push({ file, path: `hotfix.credentials.${name}`, message: 'embeds a secret as a string: never put a password in the file; use password_env, key_file or prompt' });
      continue;
    }
    if (!value || typeof value !== 'object') continue;
    for (const key of Object.keys(value)) {
      if (SECRET_KEYS.includes(key.toLowerCase())) {
        problems.push({
          file,
          path: `hotfix.credentials.${name}.${key}`,
          message: 'embeds a password: never put a secret in the file; name an environment variable with password_env (or passphrase_env), a key_file, or prompt: true',
        });
      }
    }
  }
  return problems;
}

function mappingProblems(file: string, mapping: MappingFile): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const known = VERSION_FAMILIES.join(', ');
  mapping.mappings.forEach((entry, i) => {
    const at = `mappings[${i}]`;
    if (!isVersionFamily(normalizeFamilyName(entry.version_family))) {
      problems.push({ file, path: `${at}.version_family`, message: `unknown version family ${JSON.stringify(entry.version_family)} (known: ${known})` });
    }
    const min = parseBuild(entry.min_build);
    const target = parseBuild(entry.target_build);
    if (!min) problems.push({ file, path: `${at}.min_build`, message: `not a SQL Server build: ${JSON.stringify(entry.min_build)}` });
    if (!target) problems.push({ file, path: `${at}.target_build`, message: `not a SQL Server build: ${JSON.stringify(entry.target_build)}` });
    if (min && target && compareBuilds(min, target) >= 0) {
      problems.push({ file, path: `${at}.min_build`, message: `min_build ${min.text} must be lower than target_build ${target.text}` });
    }
    const seenOrder = new Map<number, number>();
    entry.files.forEach((f, j) => {
      const nameProblem = installerFileNameProblem(f.filename);
      if (nameProblem) problems.push({ file, path: `${at}.files[${j}].filename`, message: nameProblem });
      const earlier = seenOrder.get(f.order);
      if (earlier !== undefined) {
        problems.push({ file, path: `${at}.files[${j}].order`, message: `order ${f.order} is also used by files[${earlier}]; each installer needs its own position` });
      } else seenOrder.set(f.order, j);
    });
  });

  // Two mappings for the same family and edition filter must not claim the same build.
  mapping.mappings.forEach((a, i) => {
    for (let j = 0; j < i; j++) {
      const b = mapping.mappings[j]!;
      if (normalizeFamilyName(a.version_family) !== normalizeFamilyName(b.version_family)) continue;
      if ((a.edition_filter ?? '').trim().toLowerCase() !== (b.edition_filter ?? '').trim().toLowerCase()) continue;
      const [aMin, aTarget, bMin, bTarget] = [a.min_build, a.target_build, b.min_build, b.target_build].map(parseBuild);
      if (!aMin || !aTarget || !bMin || !bTarget) continue;
      if (compareBuilds(aMin, bTarget) < 0 && compareBuilds(bMin, aTarget) < 0) {
        problems.push({
          file,
          path: `mappings[${i}]`,
          message: `range ${aMin.text}–${aTarget.text} overlaps mappings[${j}] (${bMin.text}–${bTarget.text}) for family ${a.version_family}${a.edition_filter ? ` edition ${a.edition_filter}` : ''}`,
        });
      }
    }
  });

  mapping.unsupported_versions.forEach((u, i) => {
    if (!isVersionFamily(normalizeFamilyName(u.version_family))) {
      problems.push({ file, path: `unsupported_versions[${i}].version_family`, message: `unknown version family ${JSON.stringify(u.version_family)} (known: ${known})` });
    }
  });
  return problems;
}

/** An unlisted instance must be one that no target names, and named once. */
function unlistedInstanceProblems(file: string, targetsFile: TargetsFile): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const named = new Set(targetsFile.targets.map((t) => `${t.server.toLowerCase()}\\${t.instance.toLowerCase()}`));
  targetsFile.targets.forEach((t, i) => {
    const seen = new Set<string>();
    (t.simulation?.unlisted_instances ?? []).forEach((u, j) => {
      const at = `targets[${i}].simulation.unlisted_instances[${j}].instance`;
      const key = u.instance.toLowerCase();
      if (named.has(`${t.server.toLowerCase()}\\${key}`)) {
        problems.push({ file, path: at, message: `${t.server}\\${u.instance} is a target; list it in one place only` });
      } else if (seen.has(key)) {
        problems.push({ file, path: at, message: `${t.server}\\${u.instance} is listed twice` });
      }
      seen.add(key);
    });
  });
  return problems;
}

// Host-level lab keys: two targets on one host must agree on them.
const HOST_SIMULATION_KEYS = ['reachable', 'free_disk_gb', 'pending_reboot', 'services_running', 'installer_busy', 'installers', 'unlisted_instances', 'staging_folder', 'asr_wmi_rule'] as const;

function targetProblems(file: string, targetsFile: TargetsFile, settings: HotfixSettings): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const seen = new Map<string, number>();
  const hostSimulation = new Map<string, Map<string, { index: number; value: string }>>();
  targetsFile.targets.forEach((t, i) => {
    const at = `targets[${i}]`;
    if (/[\\/\s]/.test(t.server)) {
      const [host, instance] = t.server.split('\\');
      problems.push({
        file,
        path: `${at}.server`,
        message: `${JSON.stringify(t.server)} is not a host name${instance ? `: write "server": ${JSON.stringify(host)} and "instance": ${JSON.stringify(instance)}` : ''}`,
      });
    } else {
      const hostProblem = hostNameProblem(t.server);
      if (hostProblem) problems.push({ file, path: `${at}.server`, message: hostProblem });
    }
    const key = `${t.server.toLowerCase()}\\${t.instance.toLowerCase()}`;
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      problems.push({ file, path: at, message: `duplicate target ${t.server}\\${t.instance} (also targets[${earlier}])` });
    } else seen.set(key, i);
    if (t.credential !== undefined && !(t.credential in settings.credentials)) {
      const defined = Object.keys(settings.credentials);
      problems.push({
        file,
        path: `${at}.credential`,
        message: `names credential ${JSON.stringify(t.credential)}, which audit_config.json hotfix.credentials does not define${defined.length ? ` (defined: ${defined.join(', ')})` : ''}`,
      });
    }
    const transport = t.transport ?? settings.transport;
    if (t.simulation && transport !== 'simulated') {
      problems.push({ file, path: `${at}.simulation`, message: `applies only to transport "simulated", but this target uses "${transport}"` });
    }
    if (t.simulation) {
      const host = t.server.toLowerCase();
      const known = hostSimulation.get(host) ?? new Map<string, { index: number; value: string }>();
      hostSimulation.set(host, known);
      for (const k of HOST_SIMULATION_KEYS) {
        const value = t.simulation[k];
        if (value === undefined) continue;
        const text = JSON.stringify(value);
        const other = known.get(k);
        if (other && other.value !== text) {
          problems.push({ file, path: `${at}.simulation.${k}`, message: `disagrees with targets[${other.index}] on host ${t.server} (${other.value} vs ${text}); host settings must match` });
        } else if (!other) known.set(k, { index: i, value: text });
      }
    }
  });
  problems.push(...unlistedInstanceProblems(file, targetsFile));
  return problems;
}

/**
 * The rule the target side enforces on an installer's file name (Assert-PlainFileName in
 * src/remote/powershell/Operation.Common.ps1): checked at load, so a name no target can take is a
 * configuration error instead of a failure at staging.
 */
export const PLAIN_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._ ()+-]{0,199}$/;

export function installerFileNameProblem(name: string): string | null {
  if (PLAIN_FILE_NAME.test(name) && !name.includes('..')) return null;
  return `${JSON.stringify(name)} is not a plain file name the targets accept: start with a letter or digit, then up to 199 letters, digits, spaces, ".", "_", "-", "+", "(" or ")", without ".."`;
}

/**
 * What Windows allows for a host to connect to: an IP address, or a name of dot-separated labels
 * (a NetBIOS computer name or a DNS name) of letters, digits, "-" and "_", each label 1 to 63
 * characters and not starting or ending with "-", 253 characters in all, and not only digits.
 */
export function hostNameProblem(server: string): string | null {
  if (isIP(server) !== 0) return null;
  const fix = 'use letters, digits and "-" (dots between the labels of a DNS name), or an IP address';
  if (server.length > 253) return `${JSON.stringify(server)} is not a valid host name: longer than 253 characters`;
  const labels = server.replace(/\.$/, '').split('.');
  for (const label of labels) {
    if (label.length === 0) return `${JSON.stringify(server)} is not a valid host name: an empty label (two dots, or a leading dot); ${fix}`;
    if (label.length > 63) return `${JSON.stringify(server)} is not a valid host name: the label ${JSON.stringify(label)} is longer than 63 characters`;
    if (!/^[\p{L}\p{N}_-]+$/u.test(label)) {
      const bad = [...new Set([...label].filter((c) => !/[\p{L}\p{N}_-]/u.test(c)))].map((c) => JSON.stringify(c)).join(', ');
      return `${JSON.stringify(server)} is not a valid host name: ${bad} cannot appear in a Windows host name; ${fix}`;
    }
    if (label.startsWith('-') || label.endsWith('-')) return `${JSON.stringify(server)} is not a valid host name: a label cannot start or end with "-"`;
  }
  if (labels.length === 1 && /^\p{N}+$/u.test(server)) return `${JSON.stringify(server)} is not a valid host name: a computer name cannot be only digits`;
  return null;
}
