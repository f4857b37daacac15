import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { BuildCatalog } from '../catalog/catalog.js';
import { type CatalogFile, catalogFileSchema } from '../catalog/catalogFile.js';
import { catalogFileText } from '../catalog/catalogText.js';
import { catalogFromIndex, dbatoolsIndexSchema, indexProblems } from '../catalog/dbatoolsIndex.js';
import { ConfigError, type ConfigProblem } from '../errors.js';
import type { Config } from './load.js';
import { displayPath, joinFolderAndFile, resolveUserPath } from './paths.js';
import { lineAndColumn, problemsFromZod } from './problems.js';

/*
 * Where the build catalog comes from: the one shipped with the tool, or a newer one the operator
 * brought with `--update-catalog FILE`, kept at `<output>/catalog/build-catalog.json` (the output
 * folder is the one place the tool always writes: history.db and the logs live there, and the
 * program's own folder may be read-only, e.g. under Program Files). The newer of the two is used,
 * so an upgraded tool with a newer shipped catalog wins over an older stored one.
 */

/**
 * The shipped catalog's text. The one place it is read from: a single-file build embeds the asset
 * and answers here instead.
 */
export function readShippedCatalogText(): string {
  return readFileSync(new URL('../catalog/build-catalog.json', import.meta.url), 'utf8');
}

/** `<output>/catalog/build-catalog.json`. */
export function storedCatalogPath(config: Pick<Config, 'outputDir'>): string {
  return joinFolderAndFile(resolveUserPath(config.outputDir, 'catalog'), 'build-catalog.json');
}

export interface LoadedCatalog {
  readonly catalog: BuildCatalog;
  /** `shipped`, or the path of the stored replacement in use. */
  readonly origin: 'shipped' | string;
  /** Problems that did not stop the tool (an unreadable stored catalog: the shipped one is used). */
  readonly warnings: readonly string[];
}

type Parsed<T> = { ok: true; value: T } | { ok: false; problems: ConfigProblem[] };

function parseJson(text: string, file: string): Parsed<unknown> {
  try {
    return { ok: true, value: JSON.parse(text.replace(/^\uFEFF/, '')) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const position = /position (\d+)/.exec(message);
    const where = position?.[1] ? lineAndColumn(text, Number(position[1])) : null;
    const detail = where ? `${message.replace(/ in JSON at position \d+.*$/, '')} at line ${where.line}, column ${where.column}` : message;
    return { ok: false, problems: [{ file, path: '', message: `not valid JSON: ${detail}` }] };
  }
}

function validate<S extends z.ZodType>(value: unknown, schema: S, file: string): Parsed<z.infer<S>> {
  const parsed = schema.safeParse(value, { reportInput: true });
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, problems: problemsFromZod(file, parsed.error) };
}

/** A catalog file in the tool's own format, validated. */
export function parseCatalogText(text: string, file: string): Parsed<CatalogFile> {
  const json = parseJson(text, file);
  return json.ok ? validate(json.value, catalogFileSchema, file) : json;
}

/** The shipped catalog and, when newer and valid, the stored replacement. */
export function loadBuildCatalog(config: Pick<Config, 'outputDir'>): LoadedCatalog {
  const shipped = parseCatalogText(readShippedCatalogText(), 'build-catalog.json (shipped)');
  // The shipped file is generated and tested; failing here is a defect of the package, not the user's.
  if (!shipped.ok) throw new Error(`the shipped build catalog is damaged: ${shipped.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  const stored = storedCatalogPath(config);
  let text: string;
  try {
    text = readFileSync(stored, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { catalog: new BuildCatalog(shipped.value), origin: 'shipped', warnings: [] };
    return { catalog: new BuildCatalog(shipped.value), origin: 'shipped', warnings: [`${displayPath(stored)}: cannot be read (${String(error)}); using the shipped build catalog`] };
  }
  const parsed = parseCatalogText(text, displayPath(stored));
  if (!parsed.ok) {
    const first = parsed.problems[0]!;
    return {
      catalog: new BuildCatalog(shipped.value),
      origin: 'shipped',
      warnings: [`${first.file}: ${first.path ? `${first.path}: ` : ''}${first.message}; using the shipped build catalog (run --update-catalog again to replace it)`],
    };
  }
  if (dateValue(parsed.value.last_updated) <= dateValue(shipped.value.last_updated)) {
    return { catalog: new BuildCatalog(shipped.value), origin: 'shipped', warnings: [] };
  }
  return { catalog: new BuildCatalog(parsed.value), origin: stored, warnings: [] };
}

/** Dates as the reference writes them (`2026-07-16T00:00:00`, no zone): compared as UTC. */
function dateValue(text: string): number {
  const normal = text.length === 10 ? `${text}T00:00:00Z` : /(Z|[+-]\d{2}:?\d{2})$/.test(text) ? text : `${text}Z`;
  return Date.parse(normal);
}

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
export function updateBuildCatalog(config: Pick<Config, 'outputDir'>, file: string, now: Date, cwd: string = process.cwd()): CatalogUpdate {
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

  const current = loadBuildCatalog(config);
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
