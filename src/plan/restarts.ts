import type { RestartPolicy } from '../config/schemas.js';
import type { Plan } from './types.js';

/** A restart the run will make (or may make, when its need shows only during the run). */
export interface PlannedRestart {
  readonly server: string;
  /** `before` patching (a pending reboot, with clear_pending_reboot) or `after` it. */
  readonly when: 'before' | 'after';
  /** True when the plan already knows it will happen; false when it depends on what the run finds. */
  readonly certain: boolean;
  readonly why: string;
}

export interface RestartSettings {
  readonly restart: RestartPolicy;
  readonly clearPendingReboot: boolean;
}

/** Why a host will (or may) be restarted after patching. */
export function restartReason(policy: RestartPolicy, mappingRequiresRestart: boolean): { certain: boolean; why: string } {
  if (policy === 'always') return { certain: true, why: 'after patching (restart: always)' };
  if (mappingRequiresRestart) return { certain: true, why: 'after patching: the update requires a restart (mapping)' };
  return { certain: false, why: 'after patching, if setup asks for a restart (restart: when_required)' };
}

/** The restarts a run of this plan makes, per host with work, in the plan's order. Pure. */
export function plannedRestarts(plan: Plan, settings: RestartSettings): PlannedRestart[] {
  const hosts = new Map<string, { server: string; requiresRestart: boolean }>();
  for (const t of plan.targets) {
    if (t.status !== 'pending') continue;
    const key = t.server.toLowerCase();
    const host = hosts.get(key) ?? { server: t.server, requiresRestart: false };
    host.requiresRestart ||= t.requires_restart;
    hosts.set(key, host);
  }
  const restarts: PlannedRestart[] = [];
  for (const host of hosts.values()) {
    if (settings.clearPendingReboot) {
      restarts.push({ server: host.server, when: 'before', certain: false, why: 'before patching, if pre-flight finds a pending reboot (clear_pending_reboot)' });
    }
    if (settings.restart !== 'never') restarts.push({ server: host.server, when: 'after', ...restartReason(settings.restart, host.requiresRestart) });
  }
  return restarts;
}

/** Whether the run restarts anything at all; with the defaults (restart: never) the plan stays as it was. */
export function restartsEnabled(settings: RestartSettings): boolean {
  return settings.restart !== 'never' || settings.clearPendingReboot;
}

/** The plan's restart section: who will (or may) be restarted and why; undefined when restarts are off. */
export function formatRestarts(settings: RestartSettings, restarts: readonly PlannedRestart[]): string | undefined {
  if (!restartsEnabled(settings)) return undefined;
  if (restarts.length === 0) return `Restarts: none (no host has anything to install)`;
  const lines = [`Restarts (restart: ${settings.restart}${settings.clearPendingReboot ? ', clear_pending_reboot' : ''}):`];
  for (const r of restarts) lines.push(`  ${r.server}: ${r.certain ? 'will restart' : 'may restart'} ${r.why}`);
  return lines.join('\n');
}
