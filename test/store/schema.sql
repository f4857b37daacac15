CREATE TRIGGER hotfix_action_deps_acyclic BEFORE INSERT ON hotfix_action_deps
WHEN NOT EXISTS (
  SELECT 1 FROM hotfix_actions a JOIN hotfix_actions d ON d.id = NEW.depends_on
  WHERE a.id = NEW.action_id AND d.hotfix_run_id = a.hotfix_run_id AND d.seq < a.seq
)
BEGIN
  SELECT RAISE(ABORT, 'an action may depend only on an earlier action of the same run');
END;

CREATE TRIGGER hotfix_runs_finish_only_when_settled
BEFORE UPDATE OF status ON hotfix_runs
WHEN NEW.status IN ('succeeded', 'failed') AND (
  EXISTS (SELECT 1 FROM hotfix_targets WHERE hotfix_run_id = NEW.id AND status IN ('pending', 'in_progress'))
  OR EXISTS (
    SELECT 1 FROM hotfix_steps s JOIN hotfix_targets t ON t.id = s.hotfix_target_id
    WHERE t.hotfix_run_id = NEW.id AND s.status IN ('pending', 'running', 'interrupted')
  )
)
BEGIN
  SELECT RAISE(ABORT, 'a run cannot finish while any of its targets or steps is unfinished');
END;

CREATE TABLE availability_replicas (
  id                    INTEGER PRIMARY KEY,
  ag_name               TEXT    NOT NULL COLLATE NOCASE,
  server                TEXT    NOT NULL COLLATE NOCASE,
  instance              TEXT    NOT NULL COLLATE NOCASE,
  role                  TEXT    CHECK (role IN ('primary', 'secondary')),
  availability_mode     TEXT    NOT NULL,
  failover_mode         TEXT    NOT NULL,
  synchronization_state TEXT,
  seen_at               TEXT    NOT NULL,
  UNIQUE (ag_name, server, instance)
);

CREATE TABLE failover_cluster_instances (
  id       INTEGER PRIMARY KEY,
  server   TEXT NOT NULL COLLATE NOCASE,
  instance TEXT NOT NULL COLLATE NOCASE,
  nodes    TEXT NOT NULL,
  owner    TEXT NOT NULL,
  seen_at  TEXT NOT NULL,
  UNIQUE (server, instance)
);

CREATE TABLE hotfix_action_deps (
  action_id  INTEGER NOT NULL REFERENCES hotfix_actions (id),
  depends_on INTEGER NOT NULL REFERENCES hotfix_actions (id),
  PRIMARY KEY (action_id, depends_on)
);

CREATE TABLE hotfix_actions (
  id            INTEGER PRIMARY KEY,
  hotfix_run_id INTEGER NOT NULL REFERENCES hotfix_runs (id),
  server        TEXT    NOT NULL COLLATE NOCASE,
  instance      TEXT,
  kind          TEXT    NOT NULL CHECK (kind IN ('preflight', 'install', 'verify', 'restart', 'wait_healthy', 'set_failover_mode', 'failover', 'move_role', 'wave_gate', 'restore')),
  seq           INTEGER NOT NULL,
  execution_id  TEXT,
  status        TEXT    CHECK (status IN ('pending', 'running', 'success', 'failed', 'skipped', 'interrupted')),
  reason        TEXT,
  detail        TEXT    NOT NULL DEFAULT '{}',
  started_at    TEXT,
  completed_at  TEXT,
  error_message TEXT,
  -- An install action points at its execution; its state is that execution's steps' state.
  CHECK ((kind = 'install') = (execution_id IS NOT NULL)),
  CHECK ((kind = 'install') = (status IS NULL)),
  UNIQUE (hotfix_run_id, seq)
);

CREATE TABLE hotfix_events (
  id               INTEGER PRIMARY KEY,
  at               TEXT    NOT NULL,
  hotfix_run_id    INTEGER REFERENCES hotfix_runs (id),
  hotfix_target_id INTEGER REFERENCES hotfix_targets (id),
  hotfix_step_id   INTEGER REFERENCES hotfix_steps (id),
  server           TEXT,
  level            TEXT    NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error')),
  kind             TEXT    NOT NULL,
  message          TEXT    NOT NULL
);

CREATE TABLE hotfix_rolling (
  hotfix_run_id INTEGER PRIMARY KEY REFERENCES hotfix_runs (id),
  -- The plan JSON's `rolling` object (groups, clusters, the ordered steps, the hosts held back).
  plan          TEXT    NOT NULL
);

CREATE TABLE "hotfix_runs" (
  id            INTEGER PRIMARY KEY,
  started_at    TEXT    NOT NULL,
  finished_at   TEXT,
  status        TEXT    NOT NULL CHECK (status IN ('running', 'interrupted', 'succeeded', 'failed')),
  mode          TEXT    NOT NULL CHECK (mode IN ('deploy', 'retry', 'stage')),
  options       TEXT    NOT NULL DEFAULT '{}',
  parent_run_id INTEGER REFERENCES hotfix_runs (id),
  operator      TEXT    NOT NULL,
  host          TEXT    NOT NULL,
  config_path   TEXT,
  exit_code     INTEGER
);

CREATE TABLE hotfix_setup_verdicts (
  execution_id  TEXT    PRIMARY KEY,
  final_result  TEXT,
  exit_code     INTEGER,
  summary_path  TEXT,
  recorded_at   TEXT    NOT NULL
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

CREATE TABLE hotfix_steps (
  id               INTEGER PRIMARY KEY,
  hotfix_target_id INTEGER NOT NULL REFERENCES hotfix_targets (id),
  step_order       INTEGER NOT NULL,
  host_step_order  INTEGER NOT NULL,
  installer_file   TEXT    NOT NULL,
  installer_path   TEXT    NOT NULL,
  parameters       TEXT    NOT NULL,
  sha256           TEXT,
  description      TEXT,
  required         INTEGER NOT NULL CHECK (required IN (0, 1)),
  execution_id     TEXT    NOT NULL,
  status           TEXT    NOT NULL CHECK (status IN ('pending', 'running', 'success', 'failed', 'skipped', 'interrupted')),
  started_at       TEXT,
  completed_at     TEXT,
  exit_code        INTEGER,
  exit_meaning     TEXT,
  duration_ms      INTEGER,
  output           TEXT,
  error_message    TEXT, expected_minutes REAL,
  UNIQUE (hotfix_target_id, step_order)
);

CREATE TABLE hotfix_targets (
  id               INTEGER PRIMARY KEY,
  hotfix_run_id    INTEGER NOT NULL REFERENCES hotfix_runs (id),
  server_id        INTEGER NOT NULL REFERENCES servers (id),
  server           TEXT    NOT NULL,
  instance         TEXT    NOT NULL,
  version_family   TEXT,
  edition          TEXT,
  plan_status      TEXT    NOT NULL CHECK (plan_status IN ('pending', 'up_to_date', 'unsupported', 'no_mapping', 'invalid_version', 'unreachable')),
  pre_build        TEXT,
  post_build       TEXT,
  target_build     TEXT,
  status           TEXT    NOT NULL CHECK (status IN ('pending', 'in_progress', 'success', 'partial', 'failed', 'skipped')),
  requires_restart INTEGER NOT NULL DEFAULT 0 CHECK (requires_restart IN (0, 1)),
  reached          INTEGER CHECK (reached IN (0, 1)),
  message          TEXT,
  error_message    TEXT,
  started_at       TEXT,
  completed_at     TEXT, patched_alongside INTEGER NOT NULL DEFAULT 0 CHECK (patched_alongside IN (0, 1)), wave INTEGER, deferred_ms INTEGER,
  UNIQUE (hotfix_run_id, server_id)
);

CREATE TABLE hotfix_waves (
  id              INTEGER PRIMARY KEY,
  hotfix_run_id   INTEGER NOT NULL REFERENCES hotfix_runs (id),
  position        INTEGER NOT NULL,
  name            TEXT    NOT NULL,
  max_failed      INTEGER NOT NULL,
  soak_minutes    REAL    NOT NULL,
  status          TEXT    NOT NULL CHECK (status IN ('pending', 'running', 'soaking', 'passed', 'halted', 'overridden')),
  started_at      TEXT,
  soak_started_at TEXT,
  decided_at      TEXT,
  hosts_failed    INTEGER,
  reason          TEXT,
  UNIQUE (hotfix_run_id, position)
);

CREATE TABLE run_lock (
  id           INTEGER PRIMARY KEY CHECK (id = 1),
  token        TEXT    NOT NULL,
  host         TEXT    NOT NULL,
  pid          INTEGER NOT NULL,
  operator     TEXT    NOT NULL,
  run_id       INTEGER,
  acquired_at  TEXT    NOT NULL,
  heartbeat_at TEXT    NOT NULL
);

CREATE TABLE servers (
  id             INTEGER PRIMARY KEY,
  server         TEXT    NOT NULL COLLATE NOCASE,
  instance       TEXT    NOT NULL COLLATE NOCASE DEFAULT 'MSSQLSERVER',
  port           INTEGER,
  transport      TEXT,
  credential     TEXT,
  tags           TEXT    NOT NULL DEFAULT '[]',
  version        TEXT,
  edition        TEXT,
  version_family TEXT,
  is_active      INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
  source         TEXT    NOT NULL,
  created_at     TEXT    NOT NULL,
  last_seen_at   TEXT,
  UNIQUE (server, instance)
);

CREATE INDEX hotfix_actions_run_server ON hotfix_actions (hotfix_run_id, server);

CREATE INDEX hotfix_events_run ON hotfix_events (hotfix_run_id);

CREATE INDEX hotfix_staged_files_server ON hotfix_staged_files (server, sha256);

CREATE INDEX hotfix_steps_execution ON hotfix_steps (execution_id);

CREATE INDEX hotfix_targets_run ON hotfix_targets (hotfix_run_id);
