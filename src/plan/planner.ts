import { baseName, joinFolderAndFile, resolveUserPath } from '../config/paths.js';
import type { MappingEntry, MappingFile } from '../config/schemas.js';
import type { TransportName } from '../remote/transport.js';
import { type BuildNumber, compareBuilds, parseBuild } from '../sqlserver/buildNumber.js';
import { editionMatches } from '../sqlserver/edition.js';
import { familyOf, normalizeFamilyName, VERSION_FAMILIES, type VersionFamily } from '../sqlserver/family.js';
import {
  type HostPlan,
  type HostStep,
  PLAN_STATUS,
  type Plan,
  type PlanStatus,
  type PlanStep,
  type PlanSummary,
  type PlanTarget,
  targetKey,
} from './types.js';

/** What is known about one instance when planning: from a live query, or as recorded earlier. */
export interface InventoryEntry {
  readonly server: string;
  readonly instance: string;
  /** The build text as reported; null when nothing is known. */
  readonly version: string | null;
  readonly edition: string | null;
  readonly reachable: boolean;
  /** Why the host could not be reached (when reachable is false). */
  readonly unreachableReason?: string | undefined;
  /** Why no version is known, when version is null (e.g. the host has no such instance). */
  readonly versionProblem?: string | undefined;
  readonly transport: TransportName;
  readonly port?: number | undefined;
  readonly credential?: string | undefined;
}

export interface PlanInput {
  readonly mapping: MappingFile;
  readonly inventory: readonly InventoryEntry[];
  /** The folder that relative installer paths resolve against. */
  readonly root: string;
}

/** A step as the planner builds it, with what the host plan needs beyond the JSON. */
interface DetailedStep extends PlanStep {
  readonly parameters: string;
  readonly sha256: string | null;
  readonly family: string;
  readonly mappingRef: string;
  readonly description: string;
  /** The mapping file's `expected_minutes` for this installer, when given. */
  readonly expectedMinutes: number | null;
  /** The command, lower-cased: one host runs an installer command once, however it is capitalised. */
  readonly commandKey: string;
}

export interface PlanResult {
  readonly plan: Plan;
  readonly hosts: readonly HostPlan[];
}

/**
 * The planner: a pure function from the mapping and what is known of each instance to the plan.
 * It reads no file and asks no server; checking that installers exist is the caller's job.
 */
export function buildPlan(input: PlanInput): PlanResult {
  const mappings = indexMappings(input.mapping, input.root);
  const unsupported = new Map(input.mapping.unsupported_versions.map((u) => [normalizeFamilyName(u.version_family), u.message]));
  const memo: PlanMemo = { candidates: new Map(), chains: new Map() };
  const detailed = input.inventory.map((entry) => planInstance(entry, mappings, unsupported, memo));
  const targets = detailed.map((d) => d.target);
  const summary = Object.fromEntries(PLAN_STATUS.map((s) => [s, 0])) as PlanSummary;
  for (const t of targets) summary[t.status]++;
  let hosts: readonly HostPlan[] | undefined;
  return {
    plan: { targets, summary },
    // Grouped on first use: printing a plan never needs the per-host work, which on a large fleet
    // takes as much memory as the plan itself. The inputs are read-only, so the result is the same.
    get hosts() {
      hosts ??= groupByHost(input.inventory, detailed);
      return hosts;
    },
  };
}

interface IndexedMapping {
  readonly entry: MappingEntry;
  readonly index: number;
  readonly family: string;
  readonly min: BuildNumber;
  readonly target: BuildNumber;
  readonly steps: readonly Omit<DetailedStep, 'order'>[];
}

function indexMappings(file: MappingFile, root: string): IndexedMapping[] {
  const out: IndexedMapping[] = [];
  file.mappings.forEach((entry, index) => {
    const min = parseBuild(entry.min_build);
    const target = parseBuild(entry.target_build);
    // The loader rejects such files; a planner called directly still must not crash.
    if (!min || !target) return;
    const family = normalizeFamilyName(entry.version_family);
    const files = entry.files
      .map((f, fileIndex) => ({ f, fileIndex }))
      .sort((a, b) => a.f.order - b.f.order);
    const steps = files.map(({ f, fileIndex }) => {
      const localPath = joinFolderAndFile(resolveUserPath(root, f.path === '' ? '.' : f.path), f.filename);
      const command = buildCommand(localPath, f.parameters);
      return {
        installer: baseName(f.filename),
        path: localPath,
        required: f.required,
        parameters: f.parameters,
        command,
        sha256: f.sha256 ? f.sha256.toLowerCase() : null,
        family,
        mappingRef: `mappings[${index}].files[${fileIndex}]`,
        description: f.description ?? entry.description,
        expectedMinutes: f.expected_minutes ?? null,
        commandKey: command.toLowerCase(),
      };
    });
    out.push({ entry, index, family, min, target, steps });
  });
  return out;
}

/** `"C:\Patches\SQL 2019\CU30.exe" /quiet …`: the path always quoted, so spaces are safe. */
export function buildCommand(path: string, parameters: string): string {
  const quoted = `"${path.replace(/"/g, '')}"`;
  const params = parameters.trim();
  return params === '' ? quoted : `${quoted} ${params}`;
}

interface DetailedTarget {
  readonly target: PlanTarget;
  readonly steps: readonly DetailedStep[];
}

/**
 * What many instances have in common, worked out once per plan: a fleet has a handful of families,
 * editions and chains of mappings, and thousands of instances. Instances on the same chain share
 * its (read-only) steps and message, so a plan's memory grows with its instances, not with
 * instances × steps.
 */
interface PlanMemo {
  /** By family and edition. */
  readonly candidates: Map<string, Candidates>;
  /** By the chain's mapping indexes. */
  readonly chains: Map<string, ChainPlan>;
}

/** The mappings that apply to one family and edition. */
interface Candidates {
  readonly mappings: readonly IndexedMapping[];
  /** The highest target build among them; null when there is none. */
  readonly highest: BuildNumber | null;
  readonly upToDateMessage: string;
}

/** What a chain of mappings plans for any instance it starts from. */
interface ChainPlan {
  readonly targetBuild: string;
  readonly requiresRestart: boolean;
  readonly message: string;
  readonly planSteps: readonly PlanStep[];
  readonly steps: readonly DetailedStep[];
}

function candidatesFor(family: string, edition: string | null, mappings: readonly IndexedMapping[], memo: PlanMemo): Candidates {
  const key = `${family}\u0000${edition ?? ''}`;
  let found = memo.candidates.get(key);
  if (!found) {
    const matching = mappings.filter(
      (m) => m.family === family && (!hasEditionFilter(m) || editionMatches(m.entry.edition_filter!, edition)),
    );
    const highest = matching.length === 0 ? null : matching.reduce((a, b) => (compareBuilds(a.target, b.target) >= 0 ? a : b)).target;
    found = { mappings: matching, highest, upToDateMessage: highest ? `at or above the highest target build ${highest.text}` : '' };
    memo.candidates.set(key, found);
  }
  return found;
}

function chainPlan(chain: readonly IndexedMapping[], last: IndexedMapping, memo: PlanMemo): ChainPlan {
  const key = chain.map((m) => m.index).join(',');
  let found = memo.chains.get(key);
  if (!found) {
    const steps = chain.flatMap((m) => m.steps).map((s, i) => ({ ...s, order: i + 1 }));
    const descriptions = chain.map((m) => m.entry.description || `${m.family} → ${m.target.text}`);
    found = {
      targetBuild: last.target.text,
      requiresRestart: chain.some((m) => m.entry.requires_restart),
      message: descriptions.join(' → '),
      planSteps: steps.map(({ order, installer, path, required, command }) => ({ order, installer, path, required, command })),
      steps,
    };
    memo.chains.set(key, found);
  }
  return found;
}

// Targets with nothing to run share one empty list.
const NO_STEPS: readonly never[] = [];

function planInstance(
  entry: InventoryEntry,
  mappings: readonly IndexedMapping[],
  unsupported: ReadonlyMap<string, string>,
  memo: PlanMemo,
): DetailedTarget {
  const build = parseBuild(entry.version);
  const family = build ? familyOf(build) : null;
  const currentBuild = build ? build.text : (entry.version ?? null);
  // One literal with every field, in the order the JSON shows them: built by spreading a base
  // object, each target got a hidden class of its own, a few hundred bytes apiece on a large fleet.
  const planTarget = (
    status: PlanStatus,
    message: string,
    targetBuild: string | null,
    requiresRestart: boolean,
    steps: readonly PlanStep[],
  ): PlanTarget => ({
    server: entry.server,
    instance: entry.instance,
    current_build: currentBuild,
    version_family: family,
    edition: entry.edition,
    target_build: targetBuild,
    requires_restart: requiresRestart,
    steps,
    status,
    message,
  });
  const finish = (status: PlanStatus, message: string, targetBuild: string | null = null): DetailedTarget => ({
    target: planTarget(status, message, targetBuild, false, NO_STEPS),
    steps: NO_STEPS,
  });

  if (!entry.reachable) {
    return finish('unreachable', entry.unreachableReason ?? 'the host could not be reached');
  }
  if (entry.version === null) return finish('invalid_version', entry.versionProblem ?? 'no version known for this instance (record one in sql_targets.json or run without --offline)');
  if (!build) return finish('invalid_version', `invalid version ${JSON.stringify(entry.version)}: not a SQL Server build`);
  if (!family) {
    return finish('invalid_version', `build ${build.text} belongs to no known SQL Server release (major.minor ${build.parts[0]}.${build.parts[1]})`);
  }
  const unsupportedMessage = unsupported.get(family);
  if (unsupportedMessage !== undefined) return finish('unsupported', unsupportedMessage);

  const { mappings: candidates, highest, upToDateMessage } = candidatesFor(family, entry.edition, mappings, memo);
  if (!highest) {
    return finish('no_mapping', `no mapping available for SQL Server ${family}${entry.edition ? ` (${entry.edition})` : ''}`);
  }
  if (compareBuilds(build, highest) >= 0) {
    return finish('up_to_date', upToDateMessage, highest.text);
  }

  const chain = chainFrom(build, candidates);
  const last = chain[chain.length - 1];
  if (!last) {
    const lowest = candidates.reduce((a, b) => (compareBuilds(a.min, b.min) <= 0 ? a : b)).min;
    const why = compareBuilds(build, lowest) < 0 ? `below the lowest min_build ${lowest.text}` : 'in a gap between mappings';
    return finish('no_mapping', `no mapping covers build ${build.text} for SQL Server ${family} (${why})`);
  }
  const planned = chainPlan(chain, last, memo);
  return { target: planTarget('pending', planned.message, planned.targetBuild, planned.requiresRestart, planned.planSteps), steps: planned.steps };
}

/** The mappings that take `build` as far as they reach, one hop after another. */
function chainFrom(build: BuildNumber, candidates: readonly IndexedMapping[]): IndexedMapping[] {
  const chain: IndexedMapping[] = [];
  let at = build;
  // Each hop strictly raises the build (min < target), so this ends; the bound guards a bad caller.
  for (let hop = 0; hop < candidates.length; hop++) {
    const covering = candidates.filter((m) => compareBuilds(m.min, at) <= 0 && compareBuilds(at, m.target) < 0);
    // An edition-filtered mapping wins over an unfiltered one for the same range.
    const chosen = covering.find(hasEditionFilter) ?? covering[0];
    if (!chosen) break;
    chain.push(chosen);
    at = chosen.target;
  }
  return chain;
}

/** A blank edition_filter means none, as null does. */
function hasEditionFilter(m: IndexedMapping): boolean {
  return m.entry.edition_filter !== null && m.entry.edition_filter.trim() !== '';
}

const FAMILY_RANK = new Map<string, number>(VERSION_FAMILIES.map((f: VersionFamily, i) => [f, i]));

/**
 * One host is one unit of execution: an installer that several instances need runs once on the host
 * (setup patches every instance it is told to), and a host's installers run one after another.
 */
function groupByHost(inventory: readonly InventoryEntry[], detailed: readonly DetailedTarget[]): HostPlan[] {
  const hosts = new Map<string, { entry: InventoryEntry; targets: DetailedTarget[] }>();
  detailed.forEach((d, i) => {
    const entry = inventory[i]!;
    const key = entry.server.toLowerCase();
    const host = hosts.get(key) ?? { entry, targets: [] };
    host.targets.push(d);
    hosts.set(key, host);
  });
  return [...hosts.values()].map(({ entry, targets }) => {
    const pending = targets
      .filter((t) => t.target.status === 'pending')
      .sort(
        (a, b) =>
          (FAMILY_RANK.get(a.target.version_family ?? '') ?? 0) - (FAMILY_RANK.get(b.target.version_family ?? '') ?? 0) ||
          a.target.instance.localeCompare(b.target.instance),
      );
    const byCommand = new Map<string, { step: DetailedStep; targets: string[]; required: boolean }>();
    for (const t of pending) {
      const name = targetKey(t.target.server, t.target.instance);
      for (const step of t.steps) {
        const existing = byCommand.get(step.commandKey);
        if (existing) {
          existing.targets.push(name);
          existing.required ||= step.required;
        } else byCommand.set(step.commandKey, { step, targets: [name], required: step.required });
      }
    }
    const steps: HostStep[] = [...byCommand.values()].map(({ step, targets: served, required }, i) => ({
      order: i + 1,
      installer: step.installer,
      localPath: step.path,
      parameters: step.parameters,
      command: step.command,
      required,
      sha256: step.sha256,
      family: step.family,
      mappingRef: step.mappingRef,
      description: step.description,
      expectedMinutes: step.expectedMinutes,
      targets: served,
    }));
    return {
      server: entry.server,
      transport: entry.transport,
      port: entry.port,
      credential: entry.credential,
      targets: targets.map((t) => t.target),
      steps,
    };
  });
}
