-- 0004: the run graph: each run's actions (pre-flight, install, verify, restart, …) and the order between them.
CREATE TABLE hotfix_actions (
  id            INTEGER PRIMARY KEY,
  hotfix_run_id INTEGER NOT NULL REFERENCES hotfix_runs (id),
  server        TEXT    NOT NULL COLLATE NOCASE,
  instance      TEXT,
  kind          TEXT    NOT NULL CHECK (kind IN ({{ACTION_KIND}})),
  seq           INTEGER NOT NULL,
  execution_id  TEXT,
  status        TEXT    CHECK (status IN ({{ACTION_STATUS}})),
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
CREATE INDEX hotfix_actions_run_server ON hotfix_actions (hotfix_run_id, server);

CREATE TABLE hotfix_action_deps (
  action_id  INTEGER NOT NULL REFERENCES hotfix_actions (id),
  depends_on INTEGER NOT NULL REFERENCES hotfix_actions (id),
  PRIMARY KEY (action_id, depends_on)
);

-- seq is a topological order: an action may depend only on an earlier one of the same run, so the graph has no cycle.
CREATE TRIGGER hotfix_action_deps_acyclic BEFORE INSERT ON hotfix_action_deps
WHEN NOT EXISTS (
  SELECT 1 FROM hotfix_actions a JOIN hotfix_actions d ON d.id = NEW.depends_on
  WHERE a.id = NEW.action_id AND d.hotfix_run_id = a.hotfix_run_id AND d.seq < a.seq
)
BEGIN
  SELECT RAISE(ABORT, 'an action may depend only on an earlier action of the same run');
END;
