// The non-TypeScript files the program reads at run time (SQL migrations, PowerShell operations,
// the build catalog): copyAssets.mjs copies them into dist/, buildExe.mjs stores them in
// AutoDBAudit.exe as assets, both under their path below src/ (src/shippedFiles.ts reads them).
import { readdirSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';

const SHIPPED_EXTENSIONS = new Set(['.sql', '.ps1', '.json']);

/** Paths below `srcDir`, with forward slashes (`store/migrations/0001_initial.sql`), sorted. */
export function shippedFiles(srcDir) {
  const found = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (SHIPPED_EXTENSIONS.has(extname(name))) found.push(relative(srcDir, full).split(sep).join('/'));
    }
  };
  walk(srcDir);
  return found.sort();
}
