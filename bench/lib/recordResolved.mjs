// Module loader hook (registered by measure.mjs): records the URL of every ES module, and every
// CommonJS module imported from an ES module, as it is resolved.
import { appendFileSync } from 'node:fs';

let file = null;

export function initialize(data) {
  file = data.file;
}

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  if (file) appendFileSync(file, `esm ${resolved.url}\n`);
  return resolved;
}
