-- 0006: maintenance windows, pre-staging and waves: the `stage` run mode, predictions per step, targets deferred by the window, waves with their gates, staged installers.
-- @refresh-checks hotfix_runs status=RUN_STATUS mode=RUN_MODE

-- The mapping's expected_minutes for the step's installer, kept so that a resumed run predicts as the new one did.
ALTER TABLE hotfix_steps ADD COLUMN expected_minutes REAL;

-- Position of the target's wave in hotfix_waves (null when the run has no waves).
ALTER TABLE hotfix_targets ADD COLUMN wave INTEGER;
-- Set when the target was skipped because its host's remaining work would not fit the maintenance
-- window: the predicted milliseconds it needed. --retry-failed takes such targets in the next window.
ALTER TABLE hotfix_targets ADD COLUMN deferred_ms INTEGER;

CREATE TABLE hotfix_waves (
  id              INTEGER PRIMARY KEY,
  hotfix_run_id   INTEGER NOT NULL REFERENCES hotfix_runs (id),
  position        INTEGER NOT NULL,
  name            TEXT    NOT NULL,
  max_failed      INTEGER NOT NULL,
  soak_minutes    REAL    NOT NULL,
  status          TEXT    NOT NULL CHECK (status IN ({{WAVE_STATUS}})),
  started_at      TEXT,
  soak_started_at TEXT,
  decided_at      TEXT,
  hosts_failed    INTEGER,
  reason          TEXT,
  UNIQUE (hotfix_run_id, position)
);

CREATE TABLE hotfix_staged_files (
  id             INTEGER PRIMARY KEY,
  hotfix_run_id  INTEGER NOT NULL REFERENCES hotfix_runs (id),
  server         TEXT    NOT NULL COLLATE NOCASE,
  installer_file TEXT    NOT NULL,
  remote_path    TEXT    NOT NULL,
  sha256         TEXT    NOT NULL,
  signature      TEXT,
  copied         INTEGER NOT NULL CHECK (copied IN (0, 1)),
  staged_at      TEXT    NOT NULL
);
CREATE INDEX hotfix_staged_files_server ON hotfix_staged_files (server, sha256);
