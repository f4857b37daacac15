import { z } from 'zod';
import { FILE_SCHEMAS } from './schemas.js';

/**
 * The JSON Schema files shipped in schemas/, generated from the same definitions the loader
 * validates with (what the user writes: defaults are optional, unknown keys are refused).
 */
export function jsonSchemaFiles(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, schema] of Object.entries(FILE_SCHEMAS)) {
    const json = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' });
    out[name] = `${JSON.stringify({ ...json, $id: `https://autodbaudit.invalid/schemas/${name}`, title: name.replace('.schema.json', '.json') }, null, 2)}\n`;
  }
  return out;
}
