import { annotatePlan, staleCatalogWarning } from '../catalog/buildFacts.js';
import type { BuildCatalog } from '../catalog/catalog.js';
import { checkMapping, type MappingFinding } from '../catalog/mappingChecks.js';
import { loadBuildCatalog } from '../config/buildCatalog.js';
import { type Config, loadConfig } from '../config/load.js';
import { displayPath } from '../config/paths.js';
import { ConfigError, type ConfigProblem, formatProblem, StorageError } from '../errors.js';
import { discoverInventory, recordedInventory } from '../inventory/discovery.js';
import { type KnownTarget, mergeTargets, selectTargets } from '../inventory/targets.js';
import { buildPlan, type PlanResult } from '../plan/planner.js';
import type { TransportProvider } from '../remote/transports.js';
import { describeStorageFailure, openHistory, type HistoryDb } from '../store/database.js';
import { activeServers, recordDiscovery } from '../store/servers.js';
import { familyOf } from '../sqlserver/family.js';
import { parseBuild } from '../sqlserver/buildNumber.js';
import { missingSecretVariables } from '../remote/credentials.js';
import { recordedTopology, recordTopology } from '../store/topology.js';
import { assembleTopology, type InstanceAnswer } from '../topology/assemble.js';
import { type RollingPlanResult, rollingPlanFor, rollingPlanJson } from '../topology/forPlan.js';
import { checkInstallerFiles } from './localInstallers.js';

/** Loads the configuration or throws a ConfigError listing every problem. */
export function loadConfigOrThrow(configPath: string): Config {
  const loaded = loadConfig(configPath);
  if (!loaded.ok) throw new ConfigError(loaded.problems);
  return loaded.config;
}

export interface PreparedPlan extends PlanResult {
  readonly config: Config;
  readonly targets: readonly KnownTarget[];
  /** True when versions came from asking the hosts; false with `--offline`. */
  readonly live: boolean;
  readonly warnings: readonly string[];
  /** The build catalog the plan's facts and the mapping checks come from. */
  readonly catalog: BuildCatalog;
  /** `shipped`, or the path of the stored replacement in use. */
  readonly catalogOrigin: string;
  /** What the catalog says about the mapping file (also in `warnings`). */
  readonly mappingFindings: readonly MappingFinding[];
  /** The clustered instances' topology and rolling order (empty when there are none). */
  readonly rolling: RollingPlanResult;
}

/** Per target (`server\instance`, lower-case), installer files (lower-case) not to run again. */
export type SkippedInstallers = ReadonlyMap<string, ReadonlySet<string>>;

export interface PrepareOptions {
  readonly servers: readonly string[];
  /** Installers that already succeeded for a target being retried. */
  readonly skip?: SkippedInstallers | undefined;
  readonly offline: boolean;
  readonly concurrency: number;
  readonly signal?: AbortSignal | undefined;
  /** The moment the plan is made: decides whether a build's support has ended. */
  readonly now?: Date | undefined;
  /** Record the live topology of availability groups and FCIs even where it differs from the recorded one. */
  readonly acceptTopology?: boolean | undefined;
}

/**
 * Everything before the first action on a server: the targets (file + servers table, limited by
 * --server), their versions (asked live, or as recorded), and the plan, with its installers checked.
 */
export async function preparePlan(
  config: Config,
  db: HistoryDb,
  transports: TransportProvider | null,
  options: PrepareOptions,
): Promise<PreparedPlan> {
  const warnings = [...config.warnings];
  const merged = mergeTargets(config, activeServers(db));
  const { selected, unmatched } = selectTargets(merged, options.servers);
  if (unmatched.length > 0) {
    const known = merged.map((t) => `${t.server}\\${t.instance}`).slice(0, 20).join(', ');
    throw new ConfigError(
      unmatched.map((name) => ({ file: '--server', path: '', message: `no target named ${name} (known: ${known || 'none'})` })),
    );
  }
  let inventory = recordedInventory(selected);
  let topologyAnswers: InstanceAnswer[] | null = null;
  const live = !options.offline && transports !== null;
  if (live) {
    refuseMissingSecrets(config, selected.map((t) => t.credential));
    const outcome = await discoverInventory(selected, transports, options.concurrency, options.signal);
    inventory = outcome.inventory;
    warnings.push(...outcome.warnings);
    topologyAnswers = outcome.topology;
    db.transaction(() => {
      for (const f of outcome.found) {
        const build = parseBuild(f.version);
        recordDiscovery(db, f.target, { version: f.version, edition: f.edition, family: build ? familyOf(build) : null });
      }
    })();
  }
  const result = withoutInstallers(buildPlan({ mapping: config.mapping, inventory, root: config.root }), options.skip);
  const rolling = rollingPlanFor({
    live: topologyAnswers ? assembleTopology(topologyAnswers, merged) : null,
    recorded: recordedTopology(db),
    known: merged,
    planned: result.plan.targets,
    failback: config.settings.availability_groups.failback,
    acceptTopology: options.acceptTopology ?? false,
  });
  if (rolling.toRecord) recordTopology(db, rolling.toRecord);
  for (const group of rolling.rolling.availabilityGroups) {
    if (group.status === 'refused') warnings.push(`availability group ${group.name} is refused: ${group.reasons.join('; ')}`);
  }
  for (const fci of rolling.rolling.failoverClusters) {
    if (fci.status === 'refused') warnings.push(`failover cluster instance ${fci.name} is refused: ${fci.reasons.join('; ')}`);
  }
  const clustered = rolling.topology.availabilityGroups.length + rolling.topology.failoverClusters.length > 0;
  const mappingName = displayPath(config.files.mapping);
  const files = checkInstallerFiles(config.mapping, mappingName, config.root, result.plan);
  warnings.push(...files.warnings);
  if (files.problems.length > 0) throw new ConfigError(files.problems);
  const today = (options.now ?? new Date()).toISOString().slice(0, 10);
  const catalog = await loadBuildCatalog(config);
  warnings.push(...catalog.warnings);
  const stale = staleCatalogWarning(catalog.catalog, today);
  if (stale) warnings.push(stale);
  const mappingFindings = checkMapping(config.mapping, catalog.catalog, mappingName);
  warnings.push(...mappingFindings.map(formatProblem));
  // Passes the host plans through as the planner made them: grouped only if someone reads them.
  return {
    plan: clustered ? { ...annotatePlan(result.plan, catalog.catalog, today), rolling: rollingPlanJson(rolling) } : annotatePlan(result.plan, catalog.catalog, today),
    rolling,
    catalog: catalog.catalog,
    catalogOrigin: catalog.origin,
    mappingFindings,
    get hosts() {
      return result.hosts;
    },
    config,
    targets: selected,
    live,
    warnings,
  };
}

/** A credential whose secret variable is not set is the operator's configuration to fix (exit 2), named with the variable. */
export function refuseMissingSecrets(config: Config, credentials: readonly (string | null | undefined)[]): void {
  const names = credentials.filter((c): c is string => typeof c === 'string');
  const missing = missingSecretVariables(config.settings.credentials, names);
  if (missing.length === 0) return;
  const file = displayPath(config.files.auditConfig);
  throw new ConfigError(
    missing.map((m) => ({
      file,
      path: `hotfix.credentials.${m.credential}.${m.key}`,
      message: `credential ${JSON.stringify(m.credential)} reads its ${m.key === 'password_env' ? 'password' : 'key passphrase'} from the environment variable ${m.variable}, which is not set; set it in this session, then run again`,
    })),
  );
}

export function openHistoryFor(config: Config): HistoryDb {
  try {
    return openHistory(config.historyDbPath);
  } catch (error) {
    const why = describeStorageFailure(error);
    if (why !== null) throw new StorageError(`${displayPath(config.historyDbPath)}: ${why}`, { cause: error });
    const problem: ConfigProblem = { file: displayPath(config.historyDbPath), path: '', message: `cannot open the history database: ${String(error)}` };
    throw new ConfigError([problem], { cause: error });
  }
}

/**
 * The plan without the installers `skip` names for each target: a host step no target still needs
 * is dropped, and the host's remaining steps are numbered again from 1.
 */
function withoutInstallers(result: PlanResult, skip: SkippedInstallers | undefined): PlanResult {
  if (!skip || skip.size === 0) return result;
  const skipped = (server: string, instance: string, installer: string) => skip.get(`${server}\\${instance}`.toLowerCase())?.has(installer.toLowerCase()) === true;
  const targets = result.plan.targets.map((t) => {
    const steps = t.steps.filter((s) => !skipped(t.server, t.instance, s.installer)).map((s, i) => ({ ...s, order: i + 1 }));
    return steps.length === t.steps.length ? t : { ...t, steps };
  });
  const byKey = new Map(targets.map((t) => [`${t.server}\\${t.instance}`, t]));
  const hosts = result.hosts.map((h) => {
    const steps = h.steps
      .map((s) => ({ ...s, targets: s.targets.filter((name) => { const t = byKey.get(name); return !t || !skipped(t.server, t.instance, s.installer); }) }))
      .filter((s) => s.targets.length > 0)
      .map((s, i) => ({ ...s, order: i + 1 }));
    return { ...h, targets: h.targets.map((t) => byKey.get(`${t.server}\\${t.instance}`) ?? t), steps };
  });
  return { ...result, plan: { ...result.plan, targets }, hosts };
}
