import type { ActionRow } from '../../store/history.js';

/** The JSON facts an action carries (`hotfix_actions.detail`), as an object. */
export function detailOf(action: ActionRow): Record<string, unknown> {
  try {
    const value = JSON.parse(action.detail) as unknown;
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export function textOf(detail: Record<string, unknown>, key: string): string | null {
  const value = detail[key];
  return typeof value === 'string' ? value : null;
}
