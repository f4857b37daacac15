// Copies the non-TypeScript files the program reads at run time (SQL migrations, PowerShell
// operations, the build catalog) from src/ into dist/, next to the modules that load them.
import { chmodSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shippedFiles } from './shippedFiles.mjs';

const src = fileURLToPath(new URL('../src/', import.meta.url));
const dist = fileURLToPath(new URL('../dist/', import.meta.url));

for (const name of shippedFiles(src)) cpSync(join(src, name), join(dist, name));
chmodSync(join(dist, 'cli/main.js'), 0o755);
