-- 0002: a run is never marked finished while any of its targets or steps is unfinished.
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
