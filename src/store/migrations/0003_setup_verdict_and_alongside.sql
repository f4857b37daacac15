-- 0003: setup's own verdict (its Summary.txt) per installer execution; instances patched alongside the planned ones.
CREATE TABLE hotfix_setup_verdicts (
  execution_id  TEXT    PRIMARY KEY,
  final_result  TEXT,
  exit_code     INTEGER,
  summary_path  TEXT,
  recorded_at   TEXT    NOT NULL
);
ALTER TABLE hotfix_targets ADD COLUMN patched_alongside INTEGER NOT NULL DEFAULT 0 CHECK (patched_alongside IN (0, 1));
