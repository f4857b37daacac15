import { once } from 'node:events';
import { loadConfigOrThrow, openHistoryFor, preparePlan } from '../deploy/preparePlan.js';
import { TransportProvider } from '../remote/transports.js';
import { EXIT } from './exitCodes.js';
import { jsonChunks } from './jsonChunks.js';
import type { CliOptions } from './options.js';
import { catalogSourceText } from './buildFactsText.js';
import { formatPlan } from './planText.js';
import { endedWindowText, forecastForPlan, formatSchedule, windowEndOf } from './scheduleText.js';
import { History } from '../store/history.js';
import { formatRestarts, plannedRestarts, type RestartSettings, restartsEnabled } from '../plan/restarts.js';
import type { Config } from '../config/load.js';

/** This run's restart settings: the command line's over audit_config.json's. */
export function restartSettingsOf(options: CliOptions, config: Config): RestartSettings {
  return {
    restart: options.restart ?? config.settings.restart,
    clearPendingReboot: options.clearPendingReboot ?? config.settings.clear_pending_reboot,
  };
}

/** `--hotfix-plan`: prints the plan; `--json` prints exactly the plan object and nothing else. */
export async function planCommand(options: CliOptions): Promise<number> {
  const config = loadConfigOrThrow(options.config);
  const db = openHistoryFor(config);
  const transports = options.offline ? null : new TransportProvider(config);
  try {
    const prepared = await preparePlan(config, db, transports, {
      servers: options.server,
      offline: options.offline,
      acceptTopology: options.acceptTopology,
      concurrency: options.maxConcurrent ?? Math.max(8, config.settings.max_concurrent_servers),
    });
    const concurrency = options.maxConcurrent ?? config.settings.max_concurrent_servers;
    const { forecast, schedule } = forecastForPlan(config, prepared.hosts, prepared.targets, new History(db).durationSamples(), {
      concurrency,
      windowEndMs: windowEndOf(options.windowEnd, config),
    });
    const restartSettings = restartSettingsOf(options, config);
    const restarts = plannedRestarts(prepared.plan, restartSettings);
    const ended = endedWindowText(options.windowEnd, config, Date.now());
    const windowWarnings = ended ? [`${ended}: a deployment would start nothing; give the end of the next window`] : [];
    for (const warning of [...prepared.warnings, ...forecast.warnings, ...windowWarnings]) process.stderr.write(`warning: ${warning}\n`);
    if (options.json) {
      // In pieces: the same text as JSON.stringify(plan, null, 2), never held whole (see jsonChunks).
      // Waiting for 'drain' keeps a slow reader (a pipe into jq) from making us queue it all anyway.
      // `restarts` only when the run restarts anything: with the defaults the JSON is as it was.
      const json = restartsEnabled(restartSettings) ? { ...prepared.plan, schedule, restarts } : { ...prepared.plan, schedule };
      for (const chunk of jsonChunks(json)) {
        if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
      }
      process.stdout.write('\n');
    } else {
      const source = prepared.live
        ? 'versions as the hosts reported them just now'
        : 'versions as recorded (offline: no host was contacted)';
      const facts = catalogSourceText(prepared.catalog, prepared.catalogOrigin);
      process.stdout.write(`${formatPlan(prepared.plan, `${source}; ${facts}`, formatSchedule(schedule), formatRestarts(restartSettings, restarts))}\n`);
    }
    const contacted = prepared.plan.targets.length;
    const unreachable = prepared.plan.summary.unreachable;
    return prepared.live && contacted > 0 && unreachable === contacted ? EXIT.connectivity : EXIT.ok;
  } finally {
    await transports?.dispose();
    db.close();
  }
}
