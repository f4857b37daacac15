/* The build facts a plan carries per target: the shape `--hotfix-plan --json` prints (docs/catalog.md). */

/** A cumulative update named in a build's facts: the newest one known for the build's level. */
export interface CuFacts {
  /** "SQL Server 2019 CU32". */
  readonly name: string;
  /** Three parts, as the catalog knows it: `15.0.4430`. */
  readonly build: string;
  /** `KB5054833`; null when the catalog has none. */
  readonly kb: string | null;
  readonly release_date: string | null;
}

/**
 * Where one build stands, as `--hotfix-plan --json` prints it under `catalog.current` and
 * `catalog.target`. A build the catalog does not know has `known: false` and null facts: nothing
 * is guessed from the builds around it.
 */
export interface BuildFacts {
  /** The three-part build the catalog matched it on (`15.0.4298`); for an unknown build, its first three parts. */
  readonly build: string;
  /** Whether the catalog lists this build (matched on its first three parts). */
  readonly known: boolean;
  /** "SQL Server 2019" when the catalog knows the release; null otherwise. */
  readonly release: string | null;
  /** "SQL Server 2019 CU28", "SQL Server 2016 SP3 GDR", "SQL Server 2019 CU28 + GDR". */
  readonly name: string | null;
  /** The service-pack level (`RTM`, `SP3`); null for pre-release or unknown builds. */
  readonly level: string | null;
  /** The cumulative update number on that level; null for none. */
  readonly cu: number | null;
  /** The first KB that describes the build, `KB5039747`. */
  readonly kb: string | null;
  /** `YYYY-MM-DD`. */
  readonly release_date: string | null;
  /** End of support of the build's level, `YYYY-MM-DD`. */
  readonly supported_until: string | null;
  /** True when `supported_until` is before the plan's day. */
  readonly support_ended: boolean | null;
  /** An update Microsoft pulled. */
  readonly retired: boolean | null;
  /** Cumulative updates behind the newest one known for its level (0 when it is the newest or the level has none). */
  readonly cus_behind: number | null;
  /** The newest cumulative update known for the build's level; null when the level has none. */
  readonly newest_cu: CuFacts | null;
  /** A later service-pack level of the release (`SP3` for a build on SP2); null when on the last one. */
  readonly newer_level: string | null;
}

/** What `--hotfix-plan --json` adds to each target, under the one key `catalog`. */
export interface TargetCatalogFacts {
  /** The instance's current build; null when it has no valid build. */
  readonly current: BuildFacts | null;
  /** The build the plan takes it to (or the highest target when up to date); null when there is none. */
  readonly target: BuildFacts | null;
}
