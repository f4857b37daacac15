// Budget: the build catalog adds under 50 ms of CPU to a plan of 10,000 instances (CPU time, as
// plan-scale.mjs measures, so that a busy machine does not decide the verdict; wall time is shown).
// In a fresh child process per measurement: a generated fleet whose instances sit on real builds
// of SQL Server 2012–2025 drawn from the shipped catalog (one in twenty on a build the catalog does
// not list), planned with buildPlan() against the 50-entry planning mapping; then, timed on their
// own, the catalog's work for that plan: load the catalog (read, validate, index), check the
// mapping against it, and put each target's build facts on the plan (annotatePlan).
//
//   node bench/catalog-lookup.mjs [--sizes 1000,10000,50000] [--repeat 5]
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { planningMapping, random, removeRoot, tempRoot } from './lib/fleet.mjs';
import { argValue, describeMachine, fixed, machine, median, requireBuild, saveResult, table, verdict } from './lib/report.mjs';

const SELF = fileURLToPath(import.meta.url);
const BUDGET = { instances: 10_000, addedMs: 50 };

if (process.argv[2] === '--child') await child(Number(process.argv[3]));
else await main();

/**
 * Instances on real catalog builds, each with one revision as Microsoft ships them (15.0.4298.1),
 * and 5% on builds the catalog does not list.
 */
function fleetOnRealBuilds(count) {
  const catalog = JSON.parse(readFileSync(new URL('../dist/catalog/build-catalog.json', import.meta.url), 'utf8'));
  const builds = catalog.builds.map((b) => b.build).filter((b) => /^1[1-7]\.0\.\d+$/.test(b) && Number(b.split('.')[2]) >= 1000);
  const next = random(7);
  const editions = ['Standard Edition (64-bit)', 'Enterprise Edition: Core-based Licensing (64-bit)', 'Developer Edition (64-bit)'];
  return Array.from({ length: count }, (_, i) => {
    const known = builds[Math.floor(next() * builds.length)];
    const revision = Number(known.split('.')[2]) % 7;
    const version = next() < 0.05 ? `${known.split('.').slice(0, 2).join('.')}.${9000 + Math.floor(next() * 900)}.1` : `${known}.${revision}`;
    return {
      server: `GEN-SQL${String(Math.floor(i / 2)).padStart(5, '0')}`,
      instance: i % 2 === 0 ? 'MSSQLSERVER' : `INST${i % 7}`,
      version,
      edition: editions[Math.floor(next() * editions.length)],
      reachable: true,
      transport: 'winrm',
    };
  });
}

async function child(count) {
  const { buildPlan } = await import('../dist/plan/planner.js');
  const { mappingFileSchema } = await import('../dist/config/schemas.js');
  const mapping = mappingFileSchema.parse(planningMapping().mapping);
  const inventory = fleetOnRealBuilds(count);
  const outputDir = tempRoot('catalog');
  try {
    const planStarted = performance.now();
    const { plan } = buildPlan({ mapping, inventory, root: '/srv/autodbaudit' });
    const planMs = performance.now() - planStarted;

    const cpu = process.cpuUsage();
    const started = performance.now();
    // Loading the catalog's modules is part of what it adds to the command.
    const { loadBuildCatalog } = await import('../dist/config/buildCatalog.js');
    const { annotatePlan } = await import('../dist/catalog/buildFacts.js');
    const { checkMapping } = await import('../dist/catalog/mappingChecks.js');
    const { catalog } = await loadBuildCatalog({ outputDir });
    const loadedMs = performance.now() - started;
    const findings = checkMapping(mapping, catalog, 'hotfix_mapping.json');
    const checkedMs = performance.now() - started - loadedMs;
    const annotated = annotatePlan(plan, catalog, '2026-11-29');
    const addedMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    const known = annotated.targets.filter((t) => t.catalog?.current?.known).length;
    process.stdout.write(
      JSON.stringify({
        planMs,
        loadMs: loadedMs,
        checkMs: checkedMs,
        annotateMs: addedMs - loadedMs - checkedMs,
        addedMs,
        addedCpuMs: (used.user + used.system) / 1000,
        known,
        findings: findings.length,
      }),
    );
  } finally {
    removeRoot(outputDir);
  }
}

function runChild(count) {
  const result = spawnSync(process.execPath, [SELF, '--child', String(count)], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`catalog child for ${count} failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

async function main() {
  requireBuild();
  const sizes = argValue('--sizes', '1000,10000,50000').split(',').map(Number);
  const repeat = Number(argValue('--repeat', '5'));
  const m = machine();
  console.log('Build catalog: what looking up every instance adds to a plan');
  console.log(`machine: ${describeMachine(m)}`);
  console.log(`each figure: median of ${repeat} fresh child processes (catalog loaded cold in each)\n`);
  const rows = sizes.map((count) => {
    const runs = Array.from({ length: repeat }, () => runChild(count));
    const med = (key) => median(runs.map((r) => r[key]));
    return { count, planMs: med('planMs'), loadMs: med('loadMs'), checkMs: med('checkMs'), annotateMs: med('annotateMs'), addedMs: med('addedMs'), addedCpuMs: med('addedCpuMs'), known: runs[0].known, findings: runs[0].findings };
  });
  console.log(
    table(
      ['instances', 'buildPlan ms', 'load catalog ms', 'check mapping ms', 'annotate plan ms', 'added ms (wall)', 'added ms (CPU)', 'on known builds'],
      rows.map((r) => [r.count.toLocaleString('en-US'), fixed(r.planMs), fixed(r.loadMs), fixed(r.checkMs), fixed(r.annotateMs), fixed(r.addedMs), fixed(r.addedCpuMs), r.known.toLocaleString('en-US')]),
    ),
  );
  const budgets = [];
  const row = rows.find((r) => r.count === BUDGET.instances);
  if (row) {
    budgets.push({
      name: 'the build catalog adds under 50 ms of CPU to a plan of 10,000 instances',
      ok: row.addedCpuMs < BUDGET.addedMs,
      measured: `${fixed(row.addedCpuMs)} ms CPU (${fixed(row.addedMs)} ms wall)`,
    });
  }
  console.log('');
  for (const b of budgets) console.log(verdict(b));
  saveResult({ bench: 'catalog-lookup', machine: m, rows, budgets });
  if (budgets.some((b) => !b.ok)) process.exitCode = 1;
}
