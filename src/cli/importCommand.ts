import { loadConfigOrThrow, openHistoryFor } from '../deploy/preparePlan.js';
import { ensureServer } from '../store/servers.js';
import { EXIT } from './exitCodes.js';
import type { CliOptions } from './options.js';

/** `--import-targets`: records the targets file into `servers`, so later runs know them without it. */
export async function importCommand(options: CliOptions): Promise<number> {
  const config = loadConfigOrThrow(options.config);
  const db = openHistoryFor(config);
  try {
    let count = 0;
    db.transaction(() => {
      for (const t of config.targets) {
        ensureServer(
          db,
          {
            server: t.server,
            instance: t.instance,
            port: t.port,
            transport: t.transport ?? config.settings.transport,
            credential: t.credential,
            tags: t.tags,
            version: t.version ?? null,
            edition: t.edition ?? null,
          },
          'import',
        );
        count++;
      }
    })();
    if (options.json) process.stdout.write(`${JSON.stringify({ imported: count, history: config.historyDbPath })}\n`);
    else process.stdout.write(`Imported ${count} target(s) into ${config.historyDbPath}\n`);
    return EXIT.ok;
  } finally {
    db.close();
  }
}
