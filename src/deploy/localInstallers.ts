import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { isUncPath, joinFolderAndFile, resolveUserPath } from '../config/paths.js';
import type { MappingFile } from '../config/schemas.js';
import type { ConfigProblem } from '../errors.js';
import type { HostPlan, Plan } from '../plan/types.js';

/** An installer on the admin machine, hashed once per run however many hosts need it. */
export interface LocalInstaller {
  readonly path: string;
  readonly sha256: string;
  readonly sizeBytes: number;
}

/**
 * Checks that every installer a pending instance needs exists on this machine. A missing needed file
 * is a problem (the plan stops, naming the mapping entry and the path looked at); a missing file that
 * no instance needs now is only a warning.
 */
export function checkInstallerFiles(
  mapping: MappingFile,
  mappingFile: string,
  root: string,
  plan: Plan,
  platform: NodeJS.Platform = process.platform,
): { problems: ConfigProblem[]; warnings: string[] } {
  // The installers of pending instances: the same paths their host plans stage from.
  const needed = new Set<string>();
  for (const target of plan.targets) for (const step of target.steps) needed.add(step.path);
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const checked = new Set<string>();
  mapping.mappings.forEach((entry, i) => {
    entry.files.forEach((f, j) => {
      const localPath = joinFolderAndFile(resolveUserPath(root, f.path === '' ? '.' : f.path, platform), f.filename, platform);
      if (checked.has(localPath)) return;
      checked.add(localPath);
      const ref = `mappings[${i}].files[${j}]`;
      if (isUncPath(localPath) && platform !== 'win32') {
        if (needed.has(localPath)) {
          problems.push({ file: mappingFile, path: ref, message: `${localPath}: a UNC share cannot be read from this ${platform} machine; copy the installer to a local folder` });
        }
        return;
      }
      if (existsSync(localPath)) return;
      if (needed.has(localPath)) {
        problems.push({ file: mappingFile, path: ref, message: `installer ${f.filename} not found; looked at ${localPath}` });
      } else {
        warnings.push(`${mappingFile}: ${ref}: installer ${f.filename} not found at ${localPath} (no instance needs it now)`);
      }
    });
  });
  return { problems, warnings };
}

/**
 * Hashes every installer the hosts need, once each, and refuses a file whose pinned `sha256` differs,
 * before anything runs.
 */
export async function hashInstallers(
  hosts: readonly HostPlan[],
  mappingFile: string,
): Promise<{ installers: Map<string, LocalInstaller>; problems: ConfigProblem[] }> {
  const installers = new Map<string, LocalInstaller>();
  const problems: ConfigProblem[] = [];
  // One problem per file and pin, however many hosts need it: a refused file is not hashed again.
  const checked = new Set<string>();
  for (const step of hosts.flatMap((h) => h.steps)) {
    const key = `${step.localPath}\u0000${step.sha256 ?? ''}`;
    if (checked.has(key)) continue;
    checked.add(key);
    const known = installers.get(step.localPath);
    const sha256 = known?.sha256 ?? (await sha256OfFile(step.localPath));
    if (step.sha256 && step.sha256 !== sha256) {
      problems.push({
        file: mappingFile,
        path: `${step.mappingRef}.sha256`,
        message: `${step.localPath} has SHA-256 ${sha256}, but the mapping pins ${step.sha256}; refusing to deploy a different file`,
      });
      continue;
    }
    if (!known) installers.set(step.localPath, { path: step.localPath, sha256, sizeBytes: statSync(step.localPath).size });
  }
  return { installers, problems };
}

export function sha256OfFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}
