// Budget 4: start-up. Times `autodbaudit --hotfix-plan --offline` on the examples/lab configuration
// beside `node -e 0` (the floor any Node CLI pays) and prints the ratio; then runs the same command
// once more with a loader hook that records every module loaded (ES modules through a resolve hook,
// CommonJS ones from the require cache) and lists the packages, flagging heavy ones (Excel, SSH, SQL
// clients, archivers), which must be loaded only by the commands that use them: none here.
//
// The example's config/ and hotfixes/ are copied to a temporary root so that its history.db is
// created there rather than in the repository.
//
//   node bench/startup.mjs [--runs 20]
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeRoot, tempRoot } from './lib/fleet.mjs';
import { argValue, CLI, describeMachine, fixed, MEASURE_HOOK, machine, median, REPO, requireBuild, saveResult, table, verdict } from './lib/report.mjs';

// Packages that cost real start-up time or native code, with what they are for.
const HEAVY = new Map([
  ['exceljs', 'Excel report'],
  ['jszip', 'Excel report (zip)'],
  ['archiver', 'Excel report (zip)'],
  ['unzipper', 'Excel report (zip)'],
  ['pako', 'compression'],
  ['ssh2', 'ssh transport'],
  ['cpu-features', 'ssh transport (native)'],
  ['tedious', 'SQL client'],
  ['mssql', 'SQL client'],
  ['msnodesqlv8', 'SQL client (native)'],
  ['odbc', 'SQL client (native)'],
  ['web-tree-sitter', 'PowerShell parser'],
  ['tree-sitter-powershell', 'PowerShell parser'],
]);
// Our own modules that only some commands need.
const LAZY_OWN = [/\/dist\/report\//, /\/dist\/remote\/winrm/, /\/dist\/remote\/ssh(?!Factory)/, /\/dist\/remote\/powershell\//];

requireBuild();
const runs = Number(argValue('--runs', '20'));
const m = machine();
console.log('Start-up: autodbaudit --hotfix-plan --offline on examples/lab, beside node -e 0');
console.log(`machine: ${describeMachine(m)}\n`);

const root = tempRoot('startup');
let result;
try {
  for (const dir of ['config', 'hotfixes']) cpSync(path.join(REPO, 'examples', 'lab', dir), path.join(root, dir), { recursive: true });
  const config = path.join(root, 'config', 'audit_config.json');
  const planArgs = [CLI, '--hotfix-plan', '--offline', '--config', config];
  const time = (args) => {
    const started = performance.now();
    const child = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
    const ms = performance.now() - started;
    if (child.status !== 0) throw new Error(`node ${args.join(' ')} exited ${child.status}: ${child.stderr}`);
    return ms;
  };
  // Warm the file cache and create history.db before timing.
  for (let i = 0; i < 2; i++) {
    time(['-e', '0']);
    time(planArgs);
  }
  const bare = [];
  const plan = [];
  for (let i = 0; i < runs; i++) {
    bare.push(time(['-e', '0']));
    plan.push(time(planArgs));
  }

  const modulesFile = path.join(root, 'modules.txt');
  const traced = spawnSync(process.execPath, ['--import', MEASURE_HOOK, ...planArgs], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, BENCH_MODULES: modulesFile },
  });
  if (traced.status !== 0) throw new Error(`traced run exited ${traced.status}: ${traced.stderr}`);
  const hookDir = path.dirname(fileURLToPath(import.meta.url));
  const files = [
    ...new Set(
      readFileSync(modulesFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => line.replace(/^(esm|cjs) /, ''))
        .filter((f) => !f.startsWith('node:'))
        .map((f) => (f.startsWith('file://') ? fileURLToPath(f) : f))
        .filter((f) => !f.startsWith(hookDir)),
    ),
  ];
  const packages = new Map();
  for (const f of files) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f);
    if (match) packages.set(match[1], (packages.get(match[1]) ?? 0) + 1);
  }
  const own = files.filter((f) => f.includes(`${path.sep}dist${path.sep}`));
  const heavy = [...packages.keys()].filter((p) => HEAVY.has(p));
  const lazyOwn = own.filter((f) => LAZY_OWN.some((re) => re.test(f)));
  result = {
    bareMs: median(bare),
    planMs: median(plan),
    ratio: median(plan) / median(bare),
    packages: Object.fromEntries([...packages].sort()),
    ownModules: own.length,
    heavy,
    lazyOwn: lazyOwn.map((f) => path.relative(REPO, f)),
  };
} finally {
  removeRoot(root);
}

console.log(
  table(
    ['command', `median wall ms (${runs} runs)`],
    [
      ['node -e 0', fixed(result.bareMs)],
      ['autodbaudit --hotfix-plan --offline (examples/lab)', fixed(result.planMs)],
      ['ratio', `${fixed(result.ratio, 2)}×`],
    ],
  ),
);
console.log(`\nmodules loaded: ${result.ownModules} of dist/, and from node_modules:`);
console.log(`  ${Object.entries(result.packages).map(([p, n]) => `${p} (${n})`).join(', ')}`);
console.log(`heavy packages loaded: ${result.heavy.length === 0 ? 'none' : result.heavy.map((p) => `${p} (${HEAVY.get(p)})`).join(', ')}`);
console.log(`report / winrm / ssh modules loaded: ${result.lazyOwn.length === 0 ? 'none' : result.lazyOwn.join(', ')}`);

const budgets = [
  {
    name: 'no heavy module (Excel, SSH, SQL clients) loaded by --hotfix-plan --offline',
    ok: result.heavy.length === 0 && result.lazyOwn.length === 0,
    measured: result.heavy.length + result.lazyOwn.length === 0 ? 'none loaded' : [...result.heavy, ...result.lazyOwn].join(', '),
  },
];
console.log('');
for (const b of budgets) console.log(verdict(b));
saveResult({ bench: 'startup', machine: m, runs, ...result, budgets });
if (budgets.some((b) => !b.ok)) process.exitCode = 1;
