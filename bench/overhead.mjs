// Budget 3: per-host orchestration overhead. 2,000 lab hosts whose installers finish instantly
// (simulation seconds: 0), so all that is measured is the orchestrator's own work per host:
// connect, pre-flight, stage, the guarded history.db writes of every transition, start and settle
// the installer, post-check. Budget: under 10 ms per host for the deployment engine (executeRun).
//
// The engine is driven through the modules (dist/), with a temporary history.db and lab world, so
// that its time can be told apart from planning; the whole CLI (`--deploy-hotfixes --yes`, which
// also asks every host for its version, plans, records the run and writes the summary and report)
// is timed on a copy of the same fleet for comparison.
//
//   node bench/overhead.mjs [--hosts 2000] [--concurrency 20]
import os from 'node:os';
import { removeRoot, tempRoot, writeLabRoot } from './lib/fleet.mjs';
import { deployWithCli, latestRun } from './lib/lab.mjs';
import { argValue, describeMachine, fixed, machine, requireBuild, saveResult, table, verdict } from './lib/report.mjs';

const BUDGET_MS = 10;

requireBuild();
const hosts = Number(argValue('--hosts', '2000'));
const concurrency = Number(argValue('--concurrency', '20'));
const m = machine();

const { loadConfigOrThrow, openHistoryFor, preparePlan } = await import('../dist/deploy/preparePlan.js');
const { TransportProvider } = await import('../dist/remote/transports.js');
const { History } = await import('../dist/store/history.js');
const { hashInstallers } = await import('../dist/deploy/localInstallers.js');
const { InstallerCache } = await import('../dist/deploy/installerCache.js');
const { Cancellation } = await import('../dist/deploy/cancellation.js');
const { executeRun } = await import('../dist/deploy/engine.js');
const { silentObserver } = await import('../dist/deploy/observer.js');

console.log(`Per-host overhead: ${hosts} lab hosts with instant installers, ${concurrency} at once`);
console.log(`machine: ${describeMachine(m)}\n`);

function lap(since) {
  const cpu = process.cpuUsage(since.cpu);
  return { wallMs: performance.now() - since.wall, cpuMs: (cpu.user + cpu.system) / 1000 };
}

function start() {
  return { wall: performance.now(), cpu: process.cpuUsage() };
}

const fleet = { hosts, secondsOf: () => 0, timeScale: 0.01, maxConcurrent: concurrency };
const root = tempRoot('overhead');
const cliRoot = tempRoot('overhead-cli');
let phases;
let cliFigures;
try {
  const configPath = writeLabRoot(root, fleet);
  const config = loadConfigOrThrow(configPath);
  const db = openHistoryFor(config);
  const history = new History(db);
  const transports = new TransportProvider(config);
  try {
    let t = start();
    const prepared = await preparePlan(config, db, transports, { servers: [], offline: false, concurrency });
    const withWork = prepared.hosts.filter((h) => h.steps.length > 0);
    const hashed = await hashInstallers(withWork, 'hotfix_mapping.json');
    const plan = lap(t);

    t = start();
    const runId = history.createRun({
      mode: 'deploy',
      options: { bench: true },
      parentRunId: null,
      operator: os.userInfo().username,
      host: os.hostname(),
      configPath,
      hosts: prepared.hosts,
      liveInventory: prepared.live,
    });
    const record = lap(t);

    t = start();
    const outcome = await executeRun({
      runId,
      history,
      transports,
      observer: silentObserver,
      cancellation: new Cancellation(),
      installers: new InstallerCache(hashed.installers),
      settings: {
        stagingDir: config.settings.staging_dir,
        stepTimeoutMs: config.settings.step_timeout_minutes * 60_000,
        minFreeDiskBytes: config.settings.min_free_disk_gb * 1024 ** 3,
        ignorePendingFileRename: config.settings.ignore_pending_file_rename,
        maxConcurrent: concurrency,
      },
    });
    const engine = lap(t);
    const succeeded = outcome.targets.filter((x) => x.status === 'success').length;
    if (succeeded !== hosts) throw new Error(`expected ${hosts} successful targets, got ${succeeded} (exit ${outcome.exitCode})`);
    phases = [
      { phase: 'discover versions + plan', ...plan },
      { phase: 'record the run (createRun)', ...record },
      { phase: 'deploy (executeRun)', ...engine },
    ];
  } finally {
    await transports.dispose();
    db.close();
  }

  const cliConfig = writeLabRoot(cliRoot, fleet);
  const cli = deployWithCli(cliRoot, cliConfig);
  const run = latestRun(cliRoot);
  if (run.targets.success !== hosts) throw new Error(`CLI: expected ${hosts} successful targets, got ${JSON.stringify(run.targets)}`);
  cliFigures = { wallMs: cli.wallMs, cpuMs: cli.measured.cpuMs, runWallMs: Date.parse(run.finished_at) - Date.parse(run.started_at) };
} finally {
  removeRoot(root);
  removeRoot(cliRoot);
}

const rows = [
  ...phases.map((p) => [p.phase, fixed(p.wallMs, 0), fixed(p.wallMs / hosts, 2), fixed(p.cpuMs / hosts, 2)]),
  ['whole CLI --deploy-hotfixes (process start to exit)', fixed(cliFigures.wallMs, 0), fixed(cliFigures.wallMs / hosts, 2), fixed(cliFigures.cpuMs / hosts, 2)],
  ["  of which the run (history.db: run started → finished)", fixed(cliFigures.runWallMs, 0), fixed(cliFigures.runWallMs / hosts, 2), '–'],
];
console.log(table(['phase', 'wall ms', 'wall ms/host', 'CPU ms/host'], rows));

const engine = phases.find((p) => p.phase.startsWith('deploy'));
const budgets = [
  {
    name: `orchestration per host (executeRun, history.db writes included) under ${BUDGET_MS} ms`,
    ok: engine.wallMs / hosts < BUDGET_MS,
    measured: `${fixed(engine.wallMs / hosts, 2)} ms`,
  },
];
console.log('');
for (const b of budgets) console.log(verdict(b));
saveResult({ bench: 'overhead', machine: m, hosts, concurrency, phases, cli: cliFigures, budgets });
if (budgets.some((b) => !b.ok)) process.exitCode = 1;
