// Copies the non-TypeScript files the program reads at run time (SQL migrations, PowerShell
// operations, the build catalog) from src/ into dist/, next to the modules that load them.
import { cpSync, readdirSync, statSync, chmodSync } from 'node:fs';
import { join, relative, extname } from 'node:path';

const ASSET_EXTENSIONS = new Set(['.sql', '.ps1', '.json']);
const src = new URL('../src/', import.meta.url).pathname;
const dist = new URL('../dist/', import.meta.url).pathname;

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full);
    else if (ASSET_EXTENSIONS.has(extname(name))) cpSync(full, join(dist, relative(src, full)));
  }
}
walk(src);
chmodSync(join(dist, 'cli/main.js'), 0o755);
