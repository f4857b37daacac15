import { plannedRestarts, type RestartSettings } from '../plan/restarts.js';
import type { Config } from '../config/load.js';
import { displayPath } from '../config/paths.js';
import { ConfigError, errorMessage, LockLostError, RefusalError } from '../errors.js';
import type { PlanTarget } from '../plan/types.js';
import type { TransportProvider } from '../remote/transports.js';
import type { History, NewRun, RunRow, TargetRow, WaveRow } from '../store/history.js';
import type { RunMode } from '../store/states.js';
import { type LockOwner, type LockRow, RunLock, type LockTiming } from '../store/runLock.js';
import { Cancellation } from './cancellation.js';
import { isProblem } from './runVerdict.js';
import { InstallerCache } from './installerCache.js';
import { hashInstallers } from './localInstallers.js';
import { type PreparedPlan, preparePlan, refuseMissingSecrets, type SkippedInstallers } from './preparePlan.js';
import { type AssignedWave, assignWaves } from '../predict/waves.js';
import { clusterNodesOf, type RecordedRolling, serviceGroupsOfRolling } from './graph/rollingGraph.js';

/**
 * The order that makes a deploy safe, below the CLI so a test can drive it without a terminal:
 * look (lock, unfinished runs) → plan from live versions → confirm → take the lock → check for
 * unfinished runs again → plan again from live versions and refuse if it changed → start.
 * With --yes nothing waits between planning and starting, so the lock is taken first and the plan
 * is made once, under it.
 */

/** What the deployment needs from whoever drives it (the CLI, or a test). */
export interface DeploymentIo {
  /** A line for the operator. */
  say(text: string): void;
  warn(text: string): void;
  showPlan(prepared: PreparedPlan, mode: RunMode): void;
  /** True when `confirm` will really ask (and so time may pass before the answer). */
  readonly asks: boolean;
  /** Asks the question; throws RefusalError when the answer is not yes. */
  confirm(question: string): Promise<void>;
  /** Last checks before the run row exists (the log file can be created); throws to refuse. */
  beforeRun(): void;
  /** Carries out a recorded run; `cancellation` is also stopped when the lock is lost. */
  execute(runId: number, installers: InstallerCache, cancellation: Cancellation, hosts: ReadonlySet<string> | null): Promise<number>;
}

export interface DeploymentRequest {
  /** This run's restart settings, to name the restarts in the confirmation question. */
  readonly restartSettings?: RestartSettings | undefined;
  readonly config: Config;
  readonly history: History;
  readonly transports: TransportProvider;
  readonly owner: LockOwner;
  readonly lockTiming: LockTiming;
  /** `--server` names (HOST or HOST\INSTANCE). */
  readonly servers: readonly string[];
  readonly runId: number | undefined;
  readonly maxConcurrent: number;
  /** Hosts staged at once in a stage-only run. */
  readonly stagingConcurrency: number;
  /** What `--deploy-hotfixes` alone starts: a deployment, or a stage-only run (`--stage-only`). */
  readonly newRunMode: 'deploy' | 'stage';
  /** Recorded in the run row. */
  readonly runOptions: (mode: RunMode) => Record<string, unknown>;
  /** `--continue-after-halt`: `--resume` goes past a wave that halted the run. */
  readonly continueAfterHalt?: boolean | undefined;
}

interface NewRunSpec {
  readonly mode: RunMode;
  readonly parent: RunRow | null;
  readonly servers: readonly string[];
  readonly skip: SkippedInstallers;
}

/** `--deploy-hotfixes`: a new run of the plan for the targets `--server` names (all by default). */
export function deployNew(req: DeploymentRequest, io: DeploymentIo): Promise<number> {
  refuseWhileLocked(req);
  return startNewRun(req, io, { mode: req.newRunMode, parent: null, servers: req.servers, skip: new Map() });
}

async function startNewRun(req: DeploymentRequest, io: DeploymentIo, spec: NewRunSpec): Promise<number> {
  const { history } = req;
  refuseWhileUnfinished(history);
  if (!io.asks) {
    return withRunLock(req, io, async (lock) => {
      refuseWhileUnfinished(history);
      const prepared = await planAndShow(req, io, spec);
      if (!prepared.work) return nothingToDeploy(io, prepared.plan);
      return startRun(req, io, spec, lock, prepared.plan, prepared.installers);
    });
  }
  const first = await planAndShow(req, io, spec);
  if (!first.work) return nothingToDeploy(io, first.plan);
  await io.confirm(first.question);
  return withRunLock(req, io, async (lock) => {
    // Time passed at the prompt: another operator's run may have started, finished or died meanwhile.
    refuseWhileUnfinished(history);
    const again = await planFor(req, spec);
    const changes = planChanges(first.plan, again);
    if (changes.length > 0) {
      throw new RefusalError(
        `the plan changed while waiting for confirmation, so nothing was started: ${changes.join('; ')}. Run the command again to see the current plan`,
      );
    }
    return startRun(req, io, spec, lock, again, first.installers);
  });
}

async function planFor(req: DeploymentRequest, spec: NewRunSpec): Promise<PreparedPlan> {
  const prepared = await preparePlan(req.config, req.history.db, req.transports, {
    servers: spec.servers,
    offline: false,
    concurrency: Math.max(8, req.maxConcurrent),
    skip: spec.skip,
  });
  return prepared;
}

/**
 * The hosts a rolling update holds back (lower-case), with why: the replicas' hosts and nodes of
 * refused groups and FCIs (rollingOrder's held_back), and the virtual names of refused FCIs. Their
 * targets are recorded skipped, never patched as standalone hosts.
 */
export function heldBackHosts(prepared: PreparedPlan): Map<string, string> {
  const held = new Map<string, string>();
  const rolling = prepared.rolling.rolling;
  for (const h of rolling.heldBack) held.set(h.host.toLowerCase(), h.reason);
  for (const c of rolling.failoverClusters) {
    if (c.status !== 'refused') continue;
    const server = c.name.split('\\')[0]!;
    held.set(server.toLowerCase(), `failover cluster instance ${c.name}, which is refused: ${c.reasons.join('; ')}`);
  }
  for (const g of rolling.availabilityGroups) {
    if (g.status !== 'refused') continue;
    const group = prepared.rolling.topology.availabilityGroups.find((x) => x.name === g.name);
    for (const r of group?.replicas ?? []) {
      const key = r.server.toLowerCase();
      if (!held.has(key)) held.set(key, `availability group ${g.name}, which is refused: ${g.reasons.join('; ')}`);
    }
  }
  return held;
}

async function planAndShow(
  req: DeploymentRequest,
  io: DeploymentIo,
  spec: NewRunSpec,
): Promise<{ plan: PreparedPlan; work: boolean; installers: InstallerCache; question: string }> {
  const prepared = await planFor(req, spec);
  for (const warning of prepared.warnings) io.warn(warning);
  io.showPlan(prepared, spec.mode);
  const withWork = prepared.hosts.filter((h) => h.steps.length > 0);
  if (withWork.length === 0) return { plan: prepared, work: false, installers: new InstallerCache(), question: '' };
  const hashed = await hashInstallers(withWork, displayPath(req.config.files.mapping));
  if (hashed.problems.length > 0) throw new ConfigError(hashed.problems);
  const executions = withWork.reduce((n, h) => n + h.steps.length, 0);
  const restartHosts = req.restartSettings ? new Set(plannedRestarts(prepared.plan, req.restartSettings).map((r) => r.server.toLowerCase())).size : 0;
  const restarting = restartHosts > 0 ? `, restarting up to ${restartHosts} host(s)` : '';
  const moves = prepared.plan.rolling?.failovers ?? 0;
  const failingOver = moves > 0 ? `, with ${moves} availability group failover(s) and cluster role move(s) in the order shown` : '';
  const question =
    spec.mode === 'stage'
      ? `Stage ${executions} installer(s) on ${withWork.length} host(s), at most ${req.stagingConcurrency} at once? Nothing will be installed.`
      : `Deploy ${executions} installer execution(s) to ${withWork.length} host(s), at most ${req.maxConcurrent} at once${restarting}${failingOver}?`;
  return { plan: prepared, work: true, installers: new InstallerCache(hashed.installers), question };
}

async function startRun(
  req: DeploymentRequest,
  io: DeploymentIo,
  spec: NewRunSpec,
  lock: RunLock,
  prepared: PreparedPlan,
  installers: InstallerCache,
): Promise<number> {
  io.beforeRun();
  const runId = req.history.createRun({
    mode: spec.mode,
    options: req.runOptions(spec.mode),
    parentRunId: spec.parent?.id ?? null,
    operator: req.owner.operator,
    host: req.owner.host,
    configPath: req.config.files.auditConfig,
    hosts: prepared.hosts,
    liveInventory: prepared.live,
    // Recorded with the run, so that a resumed run keeps the waves it was started with.
    waves: spec.mode === 'stage' ? undefined : runWaves(req, prepared),
    // The rolling order of availability groups and FCIs, recorded with the run for the same reason.
    ...clusteredRun(prepared, spec.mode),
  });
  lock.setRun(runId);
  return io.execute(runId, installers, cancellationOf(lock), null);
}

/** What a run records of the rolling order: the order itself, the hosts it holds back, the FCIs' nodes. */
function clusteredRun(prepared: PreparedPlan, mode: RunMode): Pick<NewRun, 'rolling' | 'heldBack' | 'clusterNodes'> {
  const rolling = prepared.plan.rolling;
  if (!rolling) return {};
  const heldBack = heldBackHosts(prepared);
  // A stage-only run installs nothing: clustered hosts are staged like any other.
  if (mode === 'stage') return {};
  return { rolling, heldBack, clusterNodes: clusterNodesOf(rolling) };
}

/** The configured waves with the plan's hosts that have work assigned to them (src/predict/waves.ts). */
function runWaves(req: DeploymentRequest, prepared: PreparedPlan): AssignedWave[] | undefined {
  const specs = req.config.settings.waves;
  if (!specs || specs.length === 0) return undefined;
  const tags = new Map<string, Set<string>>();
  for (const t of prepared.targets) {
    const set = tags.get(t.server.toLowerCase()) ?? new Set<string>();
    for (const tag of t.tags) set.add(tag);
    tags.set(t.server.toLowerCase(), set);
  }
  const hosts = prepared.hosts.filter((h) => h.steps.length > 0).map((h) => ({ server: h.server, tags: [...(tags.get(h.server.toLowerCase()) ?? [])] }));
  const waves = [...assignWaves(specs, hosts).waves];
  return prepared.plan.rolling ? keepGroupsTogether(waves, prepared.plan.rolling) : waves;
}

/**
 * A group's rolling update is one sequence across its hosts, so its hosts run in one wave: the
 * earliest wave any of them falls in (and hosts shared by groups bring their groups together).
 */
function keepGroupsTogether(waves: AssignedWave[], rolling: RecordedRolling): AssignedWave[] {
  const groupsOf = serviceGroupsOfRolling(rolling);
  const waveOf = new Map<string, number>();
  for (const w of waves) for (const s of w.servers) waveOf.set(s.toLowerCase(), w.position);
  for (let changed = true; changed; ) {
    changed = false;
    const earliest = new Map<string, number>();
    for (const [host, groups] of groupsOf) {
      const at = waveOf.get(host);
      if (at === undefined) continue;
      for (const g of groups) earliest.set(g, Math.min(earliest.get(g) ?? at, at));
    }
    for (const [host, groups] of groupsOf) {
      const at = waveOf.get(host);
      if (at === undefined) continue;
      const to = Math.min(at, ...groups.map((g) => earliest.get(g) ?? at));
      if (to !== at) {
        waveOf.set(host, to);
        changed = true;
      }
    }
  }
  return waves.map((w) => ({
    ...w,
    servers: waves.flatMap((x) => x.servers).filter((s) => waveOf.get(s.toLowerCase()) === w.position),
  }));
}

function nothingToDeploy(io: DeploymentIo, prepared: PreparedPlan): number {
  const { summary } = prepared.plan;
  io.say('Nothing to deploy: no instance needs an installer.');
  const total = prepared.plan.targets.length;
  if (total > 0 && summary.unreachable === total) return 3;
  return summary.unreachable > 0 || summary.invalid_version > 0 ? 1 : 0;
}

/**
 * What differs between the plan shown at the prompt and the plan made under the lock, one phrase per
 * instance: its build, its status, or its installers.
 */
export function planChanges(before: PreparedPlan, after: PreparedPlan): string[] {
  const key = (t: PlanTarget) => `${t.server}\\${t.instance}`.toLowerCase();
  const afterByKey = new Map(after.plan.targets.map((t) => [key(t), t]));
  const changes: string[] = [];
  for (const b of before.plan.targets) {
    const a = afterByKey.get(key(b));
    const name = `${b.server}\\${b.instance}`;
    if (!a) {
      changes.push(`${name} is no longer a target`);
      continue;
    }
    afterByKey.delete(key(b));
    const what: string[] = [];
    if (a.current_build !== b.current_build) what.push(`at build ${a.current_build ?? 'unknown'} (was ${b.current_build ?? 'unknown'})`);
    if (a.status !== b.status) what.push(`${a.status.replaceAll('_', ' ')} (was ${b.status.replaceAll('_', ' ')})`);
    const installers = (t: PlanTarget) => t.steps.map((s) => s.installer).join(', ');
    if (a.status === b.status && installers(a) !== installers(b)) what.push(`installers ${installers(a) || 'none'} (was ${installers(b) || 'none'})`);
    if (what.length > 0) changes.push(`${name} is now ${what.join(', ')}`);
  }
  for (const a of afterByKey.values()) changes.push(`${a.server}\\${a.instance} is a new target (${a.status.replaceAll('_', ' ')})`);
  return changes;
}

/** `--resume`: continues the latest unfinished run (or --run-id), on the hosts `--server` names. */
export async function resumeRun(req: DeploymentRequest, io: DeploymentIo): Promise<number> {
  const { history } = req;
  refuseWhileLocked(req);
  if (req.continueAfterHalt) throw new RefusalError('--continue-after-halt goes with --retry-failed: a new run for the targets a halted wave held back (and the failed ones)');
  const halted = haltedRun(req);
  if (halted) {
    const held = history.targets(halted.run.id).filter((t) => heldBack(t, halted.wave)).length;
    io.say(
      `Nothing to resume: run ${halted.run.id} halted after wave ${halted.wave.name}: ${halted.wave.reason}; ${held} target(s) of its later waves were not started. --resume does not go past a halt; to go on with them anyway: --deploy-hotfixes --retry-failed --continue-after-halt${req.runId !== undefined ? ` --run-id ${halted.run.id}` : ''}`,
    );
    return 1;
  }
  const run = req.runId !== undefined ? history.run(req.runId) : history.latestUnfinishedRun();
  if (!run) {
    if (req.runId !== undefined) throw new RefusalError(`there is no run ${req.runId} in ${req.config.historyDbPath}`);
    io.say('Nothing to resume: every run in history.db has finished.');
    return 0;
  }
  if (run.status !== 'running' && run.status !== 'interrupted') {
    io.say(`Nothing to resume: run ${run.id} has finished (${run.status}). Use --retry-failed to run its failed targets again.`);
    return 0;
  }
  const unfinished = history.targets(run.id).filter((t) => t.status === 'pending' || t.status === 'in_progress');
  const hosts = narrowToHosts(unfinished, req.servers, `unfinished in run ${run.id}`);
  const chosen = unfinished.filter((t) => hosts === null || hosts.has(t.server.toLowerCase()));
  const hostCount = new Set(chosen.map((t) => t.server.toLowerCase())).size;
  const scope = hosts === null ? '' : ` (resuming only ${[...new Set(chosen.map((t) => t.server))].join(', ')}, as --server asks)`;
  io.say(`Run ${run.id} (started ${run.started_at} by ${run.operator} on ${run.host}) is ${run.status}: ${chosen.length} target(s) on ${hostCount} host(s) unfinished${scope}.`);
  refuseMissingSecrets(req.config, [...new Set(chosen.map((t) => t.server_id))].map((id) => history.connectionOf(id).credential));
  await io.confirm(`Resume run ${run.id}?`);
  return withRunLock(req, io, async (lock) => {
    // Re-read under the lock: the run may have been resumed by another process meanwhile.
    const current = history.run(run.id)!;
    if (current.status !== 'running' && current.status !== 'interrupted') {
      io.say(`Nothing to resume: run ${run.id} finished meanwhile (${current.status}).`);
      return 0;
    }
    io.beforeRun();
    lock.setRun(run.id);
    if (current.status === 'running') {
      // Still `running` with nobody holding the lock: its process died (crash, kill, power loss).
      history.addEvent({
        runId: run.id,
        level: 'warn',
        kind: 'run_interrupted',
        message: `run ${run.id} was found unfinished with no process running it (the orchestrator died); settling what it left running`,
      });
    }
    history.runResumed(run.id, `run ${run.id} resumed by ${req.owner.operator} on ${req.owner.host} (pid ${req.owner.pid})${scope}`);
    return io.execute(run.id, new InstallerCache(), cancellationOf(lock), hosts);
  });
}

/** The run --resume is about, when a wave halted it (and nothing later is unfinished). */
function haltedRun(req: DeploymentRequest): { run: RunRow; wave: WaveRow } | null {
  const { history } = req;
  if (req.runId === undefined && history.latestUnfinishedRun()) return null;
  const run = req.runId !== undefined ? history.run(req.runId) : history.latestRun();
  if (run?.status !== 'failed') return null;
  const wave = history.waves(run.id).find((w) => w.status === 'halted');
  return wave ? { run, wave } : null;
}

/** A target of a later wave that a halt kept from starting. */
function heldBack(t: TargetRow, halted: WaveRow): boolean {
  return t.status === 'skipped' && t.wave != null && t.wave > halted.position && t.started_at === null && t.deferred_ms == null && t.plan_status === 'pending';
}

/** `--retry-failed`: a new run for the failed and partial targets of the latest run (or --run-id), narrowed by `--server`. */
export async function retryFailed(req: DeploymentRequest, io: DeploymentIo): Promise<number> {
  const { history } = req;
  refuseWhileLocked(req);
  // A stage-only run installed nothing, so there is nothing of it to retry: the latest deployment is meant.
  const parent = req.runId !== undefined ? history.run(req.runId) : history.recentRuns(1000).find((r) => r.mode !== 'stage');
  if (!parent) {
    if (req.runId !== undefined) throw new RefusalError(`there is no run ${req.runId} in ${req.config.historyDbPath}`);
    io.say('Nothing to retry: history.db has no run yet.');
    return 0;
  }
  if (parent.status === 'running' || parent.status === 'interrupted') {
    throw new RefusalError(`run ${parent.id} is unfinished (${parent.status}); finish it with --deploy-hotfixes --resume before retrying`);
  }
  if (parent.mode === 'stage') throw new RefusalError(`run ${parent.id} is a stage-only run: it installed nothing; deploy with --deploy-hotfixes`);
  const targets = history.targets(parent.id);
  // Targets deferred by the maintenance window are taken too: --retry-failed in the next window runs them.
  const deferred = targets.filter((t) => t.status === 'skipped' && t.deferred_ms != null);
  // With --continue-after-halt, the targets a halted wave kept from starting are taken too.
  const halt = history.waves(parent.id).find((w) => w.status === 'halted');
  if (req.continueAfterHalt && !halt) throw new RefusalError(`--continue-after-halt: run ${parent.id} did not halt at a wave`);
  const held = req.continueAfterHalt && halt ? targets.filter((t) => heldBack(t, halt)) : [];
  if (held.length > 0) io.say(`${held.length} target(s) of run ${parent.id} were held back by its halt after wave ${halt!.name}; --continue-after-halt takes them now.`);
  let failed = [...targets.filter((t) => t.status === 'failed' || t.status === 'partial'), ...deferred, ...held];
  if (deferred.length > 0) io.say(`${deferred.length} target(s) of run ${parent.id} were deferred by its maintenance window; they are taken now.`);
  const otherProblems = targets.filter((t) => t.status === 'skipped' && isProblem(t) && t.deferred_ms == null && !held.includes(t));
  if (otherProblems.length > 0) {
    io.say(
      `Note: ${otherProblems.length} target(s) of run ${parent.id} were skipped (${otherProblems.map((t) => `${t.server}\\${t.instance}`).join(', ')}); --retry-failed takes failed and partial targets only: deploy those with --server once their cause is fixed.`,
    );
  }
  if (failed.length === 0) {
    io.say(`Nothing to retry: run ${parent.id} has no failed, partial or deferred target.`);
    return 0;
  }
  if (req.servers.length > 0) {
    const { chosen, unmatched } = matchTargets(failed, req.servers);
    if (unmatched.length > 0) {
      throw new RefusalError(
        `--server ${unmatched.join(', ')}: not a failed, partial or deferred target of run ${parent.id} (those are: ${failed.map((t) => `${t.server}\\${t.instance}`).join(', ')})`,
      );
    }
    failed = chosen;
  }
  io.say(`Retrying ${failed.length} failed, partial or deferred target(s) of run ${parent.id}, planned afresh from live versions.`);
  const names = failed.map((t) => `${t.server}\\${t.instance}`);
  const whole = withWholeGroups(history.rollingOf(parent.id) as RecordedRolling | null, names);
  if (whole.length > names.length) {
    io.say(`Availability groups and FCIs are rolled whole: their other replicas are taken too (${whole.slice(names.length).join(', ')}); those already patched are up to date.`);
  }
  return startNewRun(req, io, { mode: 'retry', parent, servers: whole, skip: succeededInstallers(history, parent.id, failed) });
}

/**
 * The targets to retry with every replica of each availability group (and the FCI) they belong to in
 * the run retried: a group is planned only whole, and its replicas patched by then plan as up to date.
 */
function withWholeGroups(rolling: RecordedRolling | null, names: readonly string[]): string[] {
  const result = [...names];
  if (!rolling) return result;
  const has = (name: string) => result.some((n) => n.toLowerCase() === name.toLowerCase());
  for (const g of rolling.availability_groups) {
    const replicas = g.replicas.map((r) => r.replica);
    if (!replicas.some((r) => names.some((n) => n.toLowerCase() === r.toLowerCase()))) continue;
    for (const r of replicas) if (!has(r)) result.push(r);
  }
  return result;
}

/**
 * For each partial target being retried, the installers that already succeeded for it in the run
 * retried: setup would only answer "already applied", so they are not run again.
 */
function succeededInstallers(history: History, runId: number, targets: readonly TargetRow[]): SkippedInstallers {
  const ids = new Map(targets.filter((t) => t.status === 'partial').map((t) => [t.id, `${t.server}\\${t.instance}`.toLowerCase()]));
  const skip = new Map<string, Set<string>>();
  for (const step of history.steps(runId)) {
    const key = ids.get(step.hotfix_target_id);
    if (key === undefined || step.status !== 'success') continue;
    const set = skip.get(key) ?? new Set<string>();
    set.add(step.installer_file.toLowerCase());
    skip.set(key, set);
  }
  return skip;
}

function matchTargets(targets: readonly TargetRow[], names: readonly string[]): { chosen: TargetRow[]; unmatched: string[] } {
  const unmatched: string[] = [];
  const chosen = new Set<TargetRow>();
  for (const name of names) {
    const [host, instance] = name.split('\\', 2) as [string, string | undefined];
    const matches = targets.filter(
      (t) => t.server.toLowerCase() === host.toLowerCase() && (!instance || t.instance.toLowerCase() === instance.toLowerCase()),
    );
    if (matches.length === 0) unmatched.push(name);
    for (const m of matches) chosen.add(m);
  }
  return { chosen: targets.filter((t) => chosen.has(t)), unmatched };
}

/**
 * The hosts (lower-case) `--server` names among a run's unfinished targets, or null when it names
 * none. A host is the unit of a deployment (one installer patches all its instances), so naming one
 * instance resumes its whole host.
 */
function narrowToHosts(unfinished: readonly TargetRow[], names: readonly string[], what: string): Set<string> | null {
  if (names.length === 0) return null;
  const { chosen, unmatched } = matchTargets(unfinished, names);
  if (unmatched.length > 0) {
    const known = [...new Set(unfinished.map((t) => `${t.server}\\${t.instance}`))].join(', ') || 'none';
    throw new RefusalError(`--server ${unmatched.join(', ')}: no target ${what} (those are: ${known})`);
  }
  return new Set(chosen.map((t) => t.server.toLowerCase()));
}

/**
 * A new run while another is unfinished could start an installer on a host where the earlier run's
 * is still going: the operator finishes the earlier run first.
 */
function refuseWhileUnfinished(history: History): void {
  const unfinished = history.latestUnfinishedRun();
  if (!unfinished) return;
  throw new RefusalError(
    `run ${unfinished.id} (started ${unfinished.started_at} by ${unfinished.operator} on ${unfinished.host}) is unfinished (${unfinished.status}); continue it with --deploy-hotfixes --resume before starting another`,
  );
}

export function lockHeldError(h: LockRow): RefusalError {
  return new RefusalError(
    `another deployment holds the run lock on this history.db: ${h.operator} on host ${h.host}, pid ${h.pid}, since ${h.acquired_at}${h.run_id ? ` (run ${h.run_id})` : ''}, last heartbeat ${h.heartbeat_at}. Wait for it to finish, or stop it.`,
  );
}

/** Says who deploys right now before any planning; the lock itself is taken later. */
function refuseWhileLocked(req: DeploymentRequest): void {
  const holder = RunLock.activeHolder(req.history.db, req.owner, req.lockTiming);
  if (holder) throw lockHeldError(holder);
}

const cancellations = new WeakMap<RunLock, Cancellation>();

/** The run's cancellation, stopped at once (no new start, no more waiting) when the lock is lost. */
function cancellationOf(lock: RunLock): Cancellation {
  return cancellations.get(lock)!;
}

/**
 * Takes the run lock, fences every history write with its token, beats its heartbeat, and releases
 * it however `body` ends. When a heartbeat or a fenced write finds the lock taken over, the run's
 * cancellation stops everything at once: nothing new starts and no wait goes on.
 */
async function withRunLock(req: DeploymentRequest, io: DeploymentIo, body: (lock: RunLock) => Promise<number>): Promise<number> {
  const { history } = req;
  const acquired = RunLock.acquire(history.db, req.owner, req.lockTiming);
  if (!acquired.ok) throw lockHeldError(acquired.holder);
  const lock = acquired.lock;
  const cancellation = new Cancellation();
  cancellations.set(lock, cancellation);
  lock.onLost(() => cancellation.stopNow());
  history.fenceWith(lock.token, () => lock.markLost());
  try {
    if (acquired.tookOver) {
      const h = acquired.tookOver;
      const message = `took over a stale run lock held by ${h.operator} on ${h.host} (pid ${h.pid}, since ${h.acquired_at}${h.run_id ? `, run ${h.run_id}` : ''}): ${acquired.why}`;
      io.warn(message);
      history.addEvent({ runId: h.run_id, level: 'warn', kind: 'lock_taken_over', message });
    }
    lock.startHeartbeat();
    const code = await body(lock);
    if (history.lockLost) throw new LockLostError();
    return code;
  } finally {
    history.unfence();
    try {
      lock.release();
    } catch (error) {
      // history.db refuses even this (busy, full): the row stays, and since this process is about to
      // end, the next deployment takes it over as the lock of a process that is gone.
      io.warn(`the run lock could not be released (${errorMessage(error)}); the next deployment will take it over`);
    }
  }
}
