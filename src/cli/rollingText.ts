import type { RollingPlanJson } from '../topology/forPlan.js';

/**
 * The rolling order of availability groups and failover cluster instances as an operator reads it
 * before anything happens: each group and FCI with its primary/owner before and after and its
 * failovers, then the numbered steps, then what is held back and why.
 */
export function formatRolling(rolling: RollingPlanJson): string {
  const lines: string[] = [];
  const moves = rolling.failovers;
  lines.push(`Availability groups and clusters: ${moves} failover(s) and role move(s) in this order`);
  for (const g of rolling.availability_groups) {
    if (g.status === 'refused') {
      lines.push(`  Availability group ${g.name}: REFUSED (nothing of it is patched): ${g.reasons.join('; ')}`);
      continue;
    }
    const path = g.primary_before === g.primary_after ? `primary ${g.primary_before}` : `primary ${g.primary_before} → ${g.primary_after}`;
    lines.push(`  Availability group ${g.name}: ${g.status === 'up_to_date' ? 'up to date' : `${path}, ${g.failovers} failover(s)`}`);
  }
  for (const c of rolling.failover_clusters) {
    if (c.status === 'refused') {
      lines.push(`  Failover cluster instance ${c.name}: REFUSED (nothing of it is patched): ${c.reasons.join('; ')}`);
      continue;
    }
    const path = c.owner_before === c.owner_after ? `owner ${c.owner_before}` : `owner ${c.owner_before} → ${c.owner_after}`;
    lines.push(
      `  Failover cluster instance ${c.name} (nodes ${c.nodes.join(', ')}): ${c.status === 'up_to_date' ? 'up to date' : `${path}, ${c.role_moves} role move(s)`}`,
    );
  }
  for (const step of rolling.order) lines.push(`    ${step.step}. ${describeStep(step)}`);
  for (const h of rolling.held_back) lines.push(`  held back: ${h.host} (${h.reason})`);
  return lines.join('\n');
}

const REASON: Record<string, string> = {
  patch_former_primary: 'to a patched replica, so the former primary can be patched',
  free_host: 'to free the host (every host left holds a primary)',
  failback: 'fail back',
};

function describeStep(step: Record<string, unknown>): string {
  const s = (k: string) => String(step[k]);
  switch (step.kind) {
    case 'set_failover_mode':
      return `${s('ag')}: set failover mode of ${s('replica')} ${s('from')} → ${s('to')}`;
    case 'patch': {
      const holds = (step.holds as string[]).join(', ');
      return `patch ${s('host')}${holds ? ` (${holds})` : ''}`;
    }
    case 'wait_healthy':
      return `wait until ${(step.replicas as { ag: string; replica: string }[]).map((r) => `${r.replica} in ${r.ag}`).join(', ')} back in sync (SYNCHRONIZED; SYNCHRONIZING for asynchronous commit)`;
    case 'failover':
      return `${s('ag')}: fail over ${s('from')} → ${s('to')} (${REASON[s('reason')] ?? s('reason')})`;
    case 'move_role':
      return `${s('fci')}: move the role ${s('from')} → ${s('to')} (${REASON[s('reason')] ?? s('reason')})`;
    case 'restore':
      return `${s('ag')}: restore failover mode of ${s('replica')} ${s('from')} → ${s('to')}`;
    default:
      return s('kind');
  }
}
