// Loaded with `node --import` in front of the program being measured. On exit it writes what the
// process used, as the process itself saw it, to the file named by BENCH_MEASURE_FILE:
// CPU time (process.cpuUsage), peak resident memory (resourceUsage().maxRSS), wall time since the
// process started, and, when BENCH_MODULES is set, every module that was loaded.
import { appendFileSync, writeFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const out = process.env.BENCH_MEASURE_FILE;
const modulesFile = process.env.BENCH_MODULES;

if (modulesFile) {
  writeFileSync(modulesFile, '');
  // ES modules are seen by a resolve hook (which runs on the loader thread and appends to the file).
  register('./recordResolved.mjs', import.meta.url, { data: { file: modulesFile } });
}

process.on('exit', (code) => {
  if (modulesFile) {
    // CommonJS modules (and what they require in turn) never pass the ES resolve hook: take them
    // from the require cache.
    const cjs = Object.keys(createRequire(import.meta.url).cache);
    if (cjs.length > 0) appendFileSync(modulesFile, `${cjs.map((f) => `cjs ${f}`).join('\n')}\n`);
  }
  if (!out) return;
  const cpu = process.cpuUsage();
  const usage = process.resourceUsage();
  writeFileSync(
    out,
    JSON.stringify({
      exitCode: code,
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
      cpuMs: (cpu.user + cpu.system) / 1000,
      maxRssBytes: usage.maxRSS * 1024,
      wallMs: performance.now(),
    }),
  );
});
