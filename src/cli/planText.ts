import type { Plan, PlanStatus, PlanTarget } from '../plan/types.js';
import { buildFactsText } from './buildFactsText.js';
import { formatRolling } from './rollingText.js';

const STATUS_LABEL: Record<PlanStatus, string> = {
  pending: 'pending',
  up_to_date: 'up to date',
  unsupported: 'unsupported',
  no_mapping: 'no mapping',
  invalid_version: 'invalid version',
  unreachable: 'unreachable',
};

/** The plan as an operator reads it: one block per instance, the schedule when given, then the summary line. */
export function formatPlan(plan: Plan, source: string, schedule?: string, restarts?: string): string {
  const lines: string[] = [];
  const hosts = new Set(plan.targets.map((t) => t.server.toLowerCase())).size;
  lines.push(`Hotfix plan: ${plan.targets.length} instance(s) on ${hosts} host(s); ${source}`);
  lines.push('');
  for (const t of plan.targets) lines.push(...formatTarget(t), '');
  if (plan.rolling) lines.push(formatRolling(plan.rolling), '');
  if (schedule) lines.push(schedule, '');
  if (restarts) lines.push(restarts, '');
  lines.push(formatSummary(plan));
  return lines.join('\n');
}

function formatTarget(t: PlanTarget): string[] {
  const family = t.version_family ? `SQL Server ${t.version_family}` : 'unknown family';
  const head = `${t.server}\\${t.instance}  ${t.current_build ?? '(no version)'}  ${family}  ${t.edition ?? '(edition unknown)'}`;
  const lines = [head];
  if (t.catalog?.current) lines.push(`  build:  ${buildFactsText(t.catalog.current)}`);
  if (t.status === 'pending') {
    lines.push(`  ${STATUS_LABEL[t.status]} → ${t.target_build}  ${t.message}${t.requires_restart ? '  [restart will be needed]' : ''}`);
    if (t.catalog?.target) lines.push(`  target: ${buildFactsText(t.catalog.target)}`);
    for (const s of t.steps) lines.push(`    ${s.order}. ${s.installer}  (${s.required ? 'required' : 'optional'})`);
  } else {
    lines.push(`  ${STATUS_LABEL[t.status]}: ${t.message}`);
    if (t.catalog?.target) lines.push(`  target: ${buildFactsText(t.catalog.target)}`);
  }
  return lines;
}

export function formatSummary(plan: Plan): string {
  const parts = (Object.keys(STATUS_LABEL) as PlanStatus[]).map((s) => `${plan.summary[s]} ${STATUS_LABEL[s]}`);
  return `Summary: ${parts.join(', ')}`;
}
