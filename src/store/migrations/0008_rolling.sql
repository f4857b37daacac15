-- 0008: the rolling order of availability groups and failover cluster instances a run was started with, so that a resumed run carries out the same order.
CREATE TABLE hotfix_rolling (
  hotfix_run_id INTEGER PRIMARY KEY REFERENCES hotfix_runs (id),
  -- The plan JSON's `rolling` object (groups, clusters, the ordered steps, the hosts held back).
  plan          TEXT    NOT NULL
);
