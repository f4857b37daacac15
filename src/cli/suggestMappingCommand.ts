import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { type FoundInstaller, suggestMapping } from '../catalog/suggestMapping.js';
import { loadBuildCatalog } from '../config/buildCatalog.js';
import { displayPath, resolveUserPath } from '../config/paths.js';
import { mappingFileSchema } from '../config/schemas.js';
import { loadConfigOrThrow, openHistoryFor } from '../deploy/preparePlan.js';
import { mergeTargets } from '../inventory/targets.js';
import { activeServers, type ServerRow } from '../store/servers.js';
import { EXIT } from './exitCodes.js';
import type { CliOptions } from './options.js';

/**
 * `--suggest-mapping`: prints, as a mapping file, the entries that would bring each release of the
 * fleet to the newest installer under `<root>/hotfixes/`. Writes nothing: the operator reviews the
 * entries and copies them into hotfix_mapping.json. Notes go to stderr.
 */
export async function suggestMappingCommand(options: CliOptions): Promise<number> {
  const config = loadConfigOrThrow(options.config);
  const loaded = await loadBuildCatalog(config);
  for (const warning of [...config.warnings, ...loaded.warnings]) process.stderr.write(`warning: ${warning}\n`);
  const hotfixes = resolveUserPath(config.root, 'hotfixes');
  const installers = existsSync(hotfixes) ? findInstallers(hotfixes, 'hotfixes/') : [];
  if (installers.length === 0) process.stderr.write(`note: no installer found under ${displayPath(hotfixes)}\n`);
  // Reading must not create an empty history.db where there was none.
  let rows: ServerRow[] = [];
  if (existsSync(config.historyDbPath)) {
    const db = openHistoryFor(config);
    try {
      rows = activeServers(db);
    } finally {
      db.close();
    }
  }
  const fleet = mergeTargets(config, rows)
    .map((t) => t.recordedVersion)
    .filter((v): v is string => v !== null);
  const suggestion = suggestMapping(installers, loaded.catalog, fleet);
  for (const note of suggestion.notes) process.stderr.write(`note: ${note}\n`);
  const file = { schema_version: 1, mappings: suggestion.mappings };
  // What is printed must load as a mapping file: checked here, not left to the operator.
  mappingFileSchema.parse(file);
  process.stdout.write(`${JSON.stringify(file, null, 2)}\n`);
  return EXIT.ok;
}

/** Every file under `dir`, with its folder written as the mapping writes it (`hotfixes/2019/`). */
function findInstallers(dir: string, folder: string): FoundInstaller[] {
  const found: FoundInstaller[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) found.push(...findInstallers(full, `${folder}${name}/`));
    else found.push({ fileName: name, folder });
  }
  return found;
}
