import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Writes files (objects are written as JSON) under a fresh temp folder and returns its path. */
export function writeConfigTree(files: Record<string, unknown>, root: string = mkdtempSync(path.join(tmpdir(), 'ada-'))): string {
  for (const [rel, content] of Object.entries(files)) {
    const full = path.join(root, rel);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`);
  }
  return root;
}

export function labInstaller(family: string, setsBuild: string, seconds = 60): string {
  return JSON.stringify({ lab_installer: 1, family, sets_build: setsBuild, seconds });
}

/** An audit_config.json for a lab root, with overrides merged into `hotfix`. */
export function labAuditConfig(hotfix: Record<string, unknown> = {}, timeScale = 0.001): Record<string, unknown> {
  return {
    schema_version: 1,
    hotfix: { transport: 'simulated', max_concurrent_servers: 3, step_timeout_minutes: 0.1, ...hotfix },
    lab: { time_scale: timeScale },
  };
}

export interface MappingSpec {
  family: string;
  min: string;
  target: string;
  files: { name: string; order?: number; required?: boolean; parameters?: string; sha256?: string; expected_minutes?: number }[];
  edition?: string | null;
  restart?: boolean;
  description?: string;
}

export function mapping(specs: readonly MappingSpec[], unsupported: { version_family: string; message: string }[] = []): Record<string, unknown> {
  return {
    schema_version: 1,
    mappings: specs.map((m) => ({
      version_family: m.family,
      edition_filter: m.edition ?? null,
      min_build: m.min,
      target_build: m.target,
      description: m.description ?? `update ${m.family} to ${m.target}`,
      requires_restart: m.restart ?? false,
      files: m.files.map((f, i) => ({
        filename: f.name,
        path: `hotfixes/${m.family}/`,
        order: f.order ?? i + 1,
        required: f.required ?? true,
        parameters: f.parameters ?? '/quiet /IAcceptSQLServerLicenseTerms /Action=Patch /AllInstances',
        ...(f.sha256 ? { sha256: f.sha256 } : {}),
        ...(f.expected_minutes !== undefined ? { expected_minutes: f.expected_minutes } : {}),
      })),
    })),
    unsupported_versions: unsupported,
  };
}
