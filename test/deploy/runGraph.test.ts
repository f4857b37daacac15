import { describe, expect, it } from 'vitest';
import { buildRunGraph } from '../../src/deploy/graph/buildGraph.js';
import { TransitionConflictError } from '../../src/store/history.js';
import { ACTION_KIND, ACTION_STATUS } from '../../src/store/states.js';
import { makeRunWithOneTargetInEachState, openTestHistory, testFolder } from '../report/builders.js';
import { labFleet, readHistory } from '../helpers/labFleet.js';
import { runCli } from '../helpers/runCli.js';

interface ActionLine {
  id: number;
  server: string;
  kind: string;
  seq: number;
  execution_id: string | null;
  status: string | null;
}

describe('the run graph in history.db', () => {
  it('records each host as a chain preflight → install per execution → verify, and finishes every action', () => {
    const fleet = labFleet([{ server: 'CHAIN', version: '15.0.2000.5' }, { server: 'ONE' }, { server: 'DONE', version: '15.0.4395.2' }]);
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
    expect(result.code, result.stdout + result.stderr).toBe(0);

    const actions = readHistory<ActionLine>(fleet.root, 'SELECT * FROM hotfix_actions ORDER BY seq');
    const deps = readHistory<{ action_id: number; depends_on: number }>(fleet.root, 'SELECT * FROM hotfix_action_deps');
    const chainOf = (server: string) => actions.filter((a) => a.server === server).map((a) => a.kind);
    expect(chainOf('CHAIN')).toEqual(['preflight', 'install', 'install', 'verify']);
    expect(chainOf('ONE')).toEqual(['preflight', 'install', 'verify']);
    // A host with nothing to install has no actions.
    expect(chainOf('DONE')).toEqual([]);

    // Each action depends on the one before it on its host.
    for (const server of ['CHAIN', 'ONE']) {
      const ids = actions.filter((a) => a.server === server).map((a) => a.id);
      for (let i = 1; i < ids.length; i++) expect(deps).toContainEqual({ action_id: ids[i], depends_on: ids[i - 1] });
    }
    expect(deps).toHaveLength(5);

    // Install actions point at their execution; its steps hold the state.
    const executions = readHistory<{ execution_id: string; status: string }>(fleet.root, 'SELECT DISTINCT execution_id, status FROM hotfix_steps ORDER BY execution_id');
    expect(
      actions
        .filter((a) => a.kind === 'install')
        .map((a) => a.execution_id)
        .sort(),
    ).toEqual(executions.map((e) => e.execution_id));
    expect(actions.filter((a) => a.kind === 'install').every((a) => a.status === null)).toBe(true);
    expect(executions.every((e) => e.status === 'success')).toBe(true);
    expect(actions.filter((a) => a.kind !== 'install').map((a) => a.status)).toEqual(['success', 'success', 'success', 'success']);
  });

  it('marks the later actions of a host refused by pre-flight skipped, with the reason', () => {
    const fleet = labFleet([{ server: 'REBOOT', simulation: { pending_reboot: true } }]);
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
    expect(result.code).toBe(1);
    const actions = readHistory<ActionLine & { error_message: string | null }>(fleet.root, 'SELECT * FROM hotfix_actions ORDER BY seq');
    expect(actions.map((a) => [a.kind, a.status])).toEqual([
      ['preflight', 'failed'],
      ['install', null],
      ['verify', 'skipped'],
    ]);
    expect(actions[0]!.error_message).toMatch(/REBOOT: skipped by pre-flight: a reboot is pending/);
    expect(actions[2]!.error_message).toMatch(/a reboot is pending/);
    expect(readHistory<{ status: string }>(fleet.root, 'SELECT status FROM hotfix_steps')).toEqual([{ status: 'skipped' }]);
  });

  it('CHECK-constrains kinds and states from the code constants, and an install action has no state of its own', () => {
    const { history, db, clock } = openTestHistory(testFolder('graph'));
    const run = makeRunWithOneTargetInEachState(history, clock);
    const insert = db.prepare('INSERT INTO hotfix_actions (hotfix_run_id, server, kind, seq, execution_id, status) VALUES (?, ?, ?, ?, ?, ?)');
    let seq = 100;
    for (const kind of ACTION_KIND.filter((k) => k !== 'install')) for (const status of ACTION_STATUS) insert.run(run.runId, 'X', kind, seq++, null, status);
    expect(() => insert.run(run.runId, 'X', 'reboot', seq++, null, 'pending')).toThrow(/CHECK constraint failed/);
    expect(() => insert.run(run.runId, 'X', 'restart', seq++, null, 'paused')).toThrow(/CHECK constraint failed/);
    expect(() => insert.run(run.runId, 'X', 'install', seq++, 'r1-x-s1', 'pending')).toThrow(/CHECK constraint failed/);
    expect(() => insert.run(run.runId, 'X', 'install', seq++, null, null)).toThrow(/CHECK constraint failed/);
    expect(() => insert.run(run.runId, 'X', 'restart', seq++, 'r1-x-s1', 'pending')).toThrow(/CHECK constraint failed/);
  });

  it('refuses an edge to a later action (the graph stays acyclic) and a transition from a state the action is not in', () => {
    const { history, db, clock } = openTestHistory(testFolder('graph'));
    const run = makeRunWithOneTargetInEachState(history, clock);
    expect(history.recordGraph(run.runId, buildRunGraph(history.targets(run.runId), history.steps(run.runId)))).toBe(true);
    // Recording again changes nothing: a resumed run keeps the graph it started with.
    expect(history.recordGraph(run.runId, [])).toBe(false);
    const actions = history.actions(run.runId);
    expect(actions.length).toBeGreaterThan(0);
    const [first, second] = [actions[0]!, actions[1]!];
    expect(() => db.prepare('INSERT INTO hotfix_action_deps (action_id, depends_on) VALUES (?, ?)').run(first.id, second.id)).toThrow(
      /may depend only on an earlier action/,
    );
    expect(() => db.prepare('INSERT INTO hotfix_action_deps (action_id, depends_on) VALUES (?, ?)').run(first.id, first.id)).toThrow(/may depend only on an earlier action/);

    const verify = actions.find((a) => a.kind === 'verify')!;
    expect(verify.status).toBe('pending');
    expect(() =>
      history.actionTransition(run.runId, verify.id, { from: ['running'], to: 'success' }, { server: verify.server, level: 'info', kind: 'verify_done', message: 'x' }),
    ).toThrow(TransitionConflictError);
    history.actionTransition(run.runId, verify.id, { from: ['pending'], to: 'running', detail: { note: 'a' } }, { server: verify.server, level: 'info', kind: 'verify_running', message: 'x' });
    history.actionTransition(run.runId, verify.id, { from: ['running'], to: 'success', detail: { more: 1 } }, { server: verify.server, level: 'info', kind: 'verify_done', message: 'x' });
    const done = history.action(verify.id);
    expect(done.status).toBe('success');
    expect(JSON.parse(done.detail)).toEqual({ note: 'a', more: 1 });
    expect(done.started_at).not.toBeNull();
    expect(done.completed_at).not.toBeNull();
    // An install action's state is its steps' state.
    for (const a of actions.filter((x) => x.kind === 'install')) {
      expect(a.status).toBe(history.stepsOfExecution(a.execution_id!)[0]!.status);
    }
  });
});
