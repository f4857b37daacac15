import { delay } from '../remote/delay.js';
import type { TargetRow, WaveRow } from '../store/history.js';
import type { HostEnd } from './actions/hostVisit.js';
import type { HostContext } from './actions/types.js';
import type { DeployContext } from './context.js';
import { crashPoint } from './crashPoints.js';
import { isProblem } from './runVerdict.js';
import type { RunGraph } from './graph/runGraph.js';
import { oneOutOfServicePerGroup, Scheduler, type StartRule } from './scheduler.js';

export interface WavesOutcome {
  readonly ends: ReadonlyMap<string, HostEnd>;
  /** Why the run halted (a wave over its failure budget), or null. */
  readonly halt: string | null;
  /** A wave's soak or gate was left unfinished (Ctrl+C): --resume goes on from there. */
  readonly unfinished: boolean;
  /** history.db stopped taking writes during a scheduler pass. */
  readonly storageFailure?: unknown;
}

/**
 * Runs the hosts wave by wave: a wave's hosts all finish (one scheduler pass over them), then its
 * soak time passes, then its gate counts the hosts that failed against `max_failed`: over budget, the
 * run halts and no host of a later wave starts. Each gate transition is one guarded statement in
 * `hotfix_waves`, so a resumed run goes on from where the gate was: a wave found `soaking` soaks only
 * what is left of its time; a wave found `halted` stays a halt unless --continue-after-halt.
 * A run without waves is one pass over all its hosts.
 */
export async function runWaves(ctx: DeployContext, graph: RunGraph, hosts: readonly HostContext[]): Promise<WavesOutcome> {
  const { history, runId } = ctx;
  const waves = history.waves(runId);
  if (waves.length === 0) {
    const scheduler = new Scheduler(ctx, graph, hosts, startRules(ctx));
    const ends = await scheduler.run();
    return { ends, halt: null, unfinished: false, storageFailure: scheduler.storageFailure };
  }
  const waveOf = new Map<string, number>();
  for (const t of history.targets(runId)) if (t.wave != null) waveOf.set(t.server.toLowerCase(), t.wave);
  const ends = new Map<string, HostEnd>();
  for (const wave of waves) {
    const last = wave.position === waves.length - 1;
    let row: WaveRow = wave;
    if (row.status === 'passed' || row.status === 'overridden') continue;
    if (row.status === 'halted') {
      // Found halted (a resume after a crash that came right after the decision): the halt stands.
      history.skipHeldBack(runId, row.position, heldBackReason(row));
      return { ends, halt: haltText(row), unfinished: false };
    }
    const members = hosts.filter((h) => waveOf.get(h.server.toLowerCase()) === row.position);
    if (row.status === 'pending') {
      if (ctx.cancellation.stopStarting) return { ends, halt: null, unfinished: true };
      history.waveTransition(runId, row.position, { from: ['pending'], to: 'running' }, {
        level: 'info',
        kind: 'wave_started',
        message: `wave ${row.name} (${row.position + 1} of ${waves.length}): started, ${members.length} host(s) with work; may fail: ${row.max_failed}`,
      });
      crashPoint('wave-started');
      row = { ...row, status: 'running' };
    }
    if (row.status === 'running') {
      const scheduler = new Scheduler(ctx, graph, members, startRules(ctx));
      const waveEnds = await scheduler.run();
      for (const [server, end] of waveEnds) ends.set(server, end);
      if (scheduler.storageFailure !== null || history.lockLost) return { ends, halt: null, unfinished: true, storageFailure: scheduler.storageFailure };
      if ([...waveEnds.values()].some((end) => end !== 'finished')) return { ends, halt: null, unfinished: true };
      const soak = last ? 0 : row.soak_minutes;
      history.waveTransition(runId, row.position, { from: ['running'], to: 'soaking' }, {
        level: 'info',
        kind: 'wave_soaking',
        message: `wave ${row.name}: all its hosts finished; ${soak > 0 ? `soaking ${soak} min before its outcome is judged` : 'judging its outcome'}`,
      });
      crashPoint('wave-finished');
      row = history.waves(runId)[row.position]!;
    }
    // Soaking: what is left of the soak time since it began (a resumed run does not start it again).
    const soakEnd = Date.parse(row.soak_started_at!) + (last ? 0 : row.soak_minutes * 60_000);
    while (Date.now() < soakEnd) {
      if (ctx.cancellation.stopStarting) return { ends, halt: null, unfinished: true };
      await delay(Math.min(250, soakEnd - Date.now()), ctx.cancellation.signal);
    }
    const failed = failedHosts(history.targets(runId).filter((t) => t.wave === row.position));
    if (failed.length > row.max_failed) {
      const reason = `${failed.length} host(s) failed (${failed.slice(0, 10).join(', ')}${failed.length > 10 ? ', …' : ''}), more than max_failed ${row.max_failed}`;
      history.waveTransition(runId, row.position, { from: ['soaking'], to: 'halted', hostsFailed: failed.length, reason }, {
        level: 'error',
        kind: 'run_halted',
        message: `wave ${row.name}: ${reason}; the run halts: no host of a later wave starts. To go on anyway: --deploy-hotfixes --retry-failed --continue-after-halt`,
      });
      crashPoint('wave-decided');
      history.skipHeldBack(runId, row.position, heldBackReason({ ...row, reason }));
      if (!last) return { ends, halt: haltText({ ...row, reason }), unfinished: false };
      continue;
    }
    history.waveTransition(runId, row.position, { from: ['soaking'], to: 'passed', hostsFailed: failed.length }, {
      level: 'info',
      kind: 'wave_passed',
      message: `wave ${row.name}: passed (${failed.length} host(s) failed, max_failed ${row.max_failed})`,
    });
    crashPoint('wave-decided');
  }
  return { ends, halt: null, unfinished: false };
}

function heldBackReason(row: Pick<WaveRow, 'name' | 'reason'>): string {
  return `not started: the run halted after wave ${row.name} (${row.reason}); to go on: --deploy-hotfixes --retry-failed --continue-after-halt`;
}

function haltText(row: Pick<WaveRow, 'name' | 'reason'>): string {
  return `halted after wave ${row.name}: ${row.reason}`;
}

/**
 * Hosts of a wave that did not end well: a target failed, partial, or skipped for a problem
 * (unreachable, pre-flight). Hosts deferred by the maintenance window are not failures of the update.
 */
function failedHosts(targets: readonly TargetRow[]): string[] {
  const hosts = new Set<string>();
  for (const t of targets) if (t.deferred_ms == null && isProblem(t)) hosts.add(t.server);
  return [...hosts].sort();
}

/** The start rules every scheduler of a run uses: never two hosts of one group out of service at once. */
function startRules(ctx: DeployContext): StartRule[] {
  return [oneOutOfServicePerGroup(ctx.settings.serviceGroupsOf ?? (() => []))];
}
