import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { catalogFileSchema } from '../catalog/catalogFile.js';
import { catalogFileText } from '../catalog/catalogText.js';
import { catalogFromIndex, dbatoolsIndexSchema, indexProblems } from '../catalog/dbatoolsIndex.js';
import { ConfigError } from '../errors.js';
import { dateValue, loadBuildCatalog, parseJson, storedCatalogPath, validate } from './buildCatalog.js';
import type { Config } from './load.js';
import { displayPath } from './paths.js';
import { problemsFromZod } from './problems.js';

export interface CatalogUpdate {
  readonly updated: boolean;
  /** The last update date of the catalog in use before. */
  readonly previous: string;
  /** The file's `LastUpdated`. */
  readonly offered: string;
  /** Where the replacement was written (when updated). */
  readonly path: string;
  readonly builds: number;
}

/**
 * `--update-catalog FILE`: reads a file in dbatools' index format, validates it, and stores it as the
 * catalog when its LastUpdated is newer than the catalog in use. Throws a ConfigError naming the
 * file and each field when the file is not a valid reference; nothing is written then.
 */
export async function updateBuildCatalog(config: Pick<Config, 'outputDir'>, file: string, now: Date, cwd: string = process.cwd()): Promise<CatalogUpdate> {
  const absolute = path.resolve(cwd, file);
  const name = displayPath(absolute, cwd);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `cannot be read (${String(error)})`;
    throw new ConfigError([{ file: name, path: '', message: reason }]);
  }
  const json = parseJson(text, name);
  if (!json.ok) throw new ConfigError(json.problems);
  const index = validate(json.value, dbatoolsIndexSchema, name);
  if (!index.ok) throw new ConfigError(index.problems);
  const semantic = indexProblems(index.value);
  if (semantic.length > 0) throw new ConfigError(semantic.map((p) => ({ file: name, ...p })));
  if (Number.isNaN(dateValue(index.value.LastUpdated))) {
    throw new ConfigError([{ file: name, path: 'LastUpdated', message: `not a date: ${JSON.stringify(index.value.LastUpdated)}` }]);
  }

  const current = await loadBuildCatalog(config);
  const stored = storedCatalogPath(config);
  const result = { previous: current.catalog.lastUpdated, offered: index.value.LastUpdated, path: stored, builds: index.value.Data.length };
  if (dateValue(index.value.LastUpdated) <= dateValue(current.catalog.lastUpdated)) return { updated: false, ...result };

  const catalog = catalogFromIndex(index.value, { from: path.basename(absolute), at: now.toISOString() });
  // The conversion must give a catalog the loader accepts; checked before anything is written.
  const check = catalogFileSchema.safeParse(catalog);
  if (!check.success) throw new ConfigError(problemsFromZod(name, check.error));
  mkdirSync(path.dirname(stored), { recursive: true });
  const partial = `${stored}.partial`;
  try {
    writeFileSync(partial, catalogFileText(catalog));
    renameSync(partial, stored);
  } catch (error) {
    rmSync(partial, { force: true });
    throw new ConfigError([{ file: displayPath(stored, cwd), path: '', message: `cannot be written (${String(error)})` }], { cause: error });
  }
  return { updated: true, ...result };
}
