import { formatMinutes } from '../predict/format.js';
import { DurationModel, type Prediction } from '../predict/durations.js';
import type { History } from '../store/history.js';
import type { HostWork } from './hostWork.js';

/**
 * The predicted duration of each installer execution of a run, from history.db's earlier executions
 * (src/predict/durations.ts), taken once when the run starts or resumes: the maintenance window and
 * the ETA use these same figures, as the plan did.
 */
export class RunPredictions {
  private readonly byExecution = new Map<string, Prediction & { installer: string }>();

  constructor(history: History, work: readonly HostWork[], defaultExpectedMinutes: number) {
    const model = new DurationModel(history.durationSamples(), defaultExpectedMinutes * 60_000);
    for (const host of work) {
      for (const group of host.groups) {
        const prediction = model.predict({
          server: host.server,
          installer: group.installer,
          instances: group.steps.length,
          expectedMinutes: group.steps[0]?.expected_minutes ?? null,
        });
        this.byExecution.set(group.executionId, { ...prediction, installer: group.installer });
      }
    }
  }

  of(executionId: string): (Prediction & { installer: string }) | undefined {
    return this.byExecution.get(executionId);
  }

  ms(executionId: string): number {
    return this.byExecution.get(executionId)?.ms ?? 0;
  }

  /** `CU30.exe about 12 min (this host before)`, for messages. */
  describe(executionIds: readonly string[]): string {
    return executionIds
      .map((id) => this.byExecution.get(id))
      .filter((p) => p !== undefined)
      .map((p) => `${p.installer} about ${formatMinutes(p.ms / 60_000)} (${SOURCE[p.source]})`)
      .join(', ');
  }
}

const SOURCE: Record<Prediction['source'], string> = {
  host_history: 'this host before',
  similar_hosts: 'hosts with as many instances',
  fleet_history: 'other hosts',
  mapping: 'expected_minutes',
  default: 'default',
};
