import { LabWorld } from '../lab/world.js';
import { loadConfigOrThrow } from '../deploy/preparePlan.js';
import type { CliOptions } from './options.js';

/** `--lab-reset`: the lab world is recreated from the configuration on next use. */
export function resetLab(options: CliOptions): void {
  const config = loadConfigOrThrow(options.config);
  const file = LabWorld.pathFor(config.outputDir);
  LabWorld.reset(file);
  if (!options.json) process.stderr.write(`lab: world reset (${file})\n`);
}
