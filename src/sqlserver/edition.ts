/**
 * Whether an instance's edition matches a mapping's `edition_filter`: case-insensitive, as a whole
 * word or phrase ("Standard" matches "Standard Edition (64-bit)", not "NonStandard").
 */
export function editionMatches(filter: string, edition: string | null | undefined): boolean {
  if (!edition) return false;
  const words = filter.trim().split(/\s+/).map(escapeRegExp).join('\\s+');
  if (words === '') return false;
  return new RegExp(`(^|[^A-Za-z0-9])${words}($|[^A-Za-z0-9])`, 'i').test(edition);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
