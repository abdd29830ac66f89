/**
 * Longest text, in characters, kept in a b-tree indexed search column.
 * PostgreSQL refuses b-tree entries over ~2700 bytes, so one very long
 * (valid) value would fail the whole write; at 4 bytes a character two such
 * columns still fit. Searches cut their values the same way, so a long value
 * still finds itself (matching on its first INDEX_TEXT_MAX characters).
 */
export const INDEX_TEXT_MAX = 256;

export function indexText(v: string): string;
export function indexText(v: string | null): string | null;
export function indexText(v: string | undefined): string | undefined;
export function indexText(v: string | null | undefined): string | null | undefined {
  if (v === null || v === undefined || v.length <= INDEX_TEXT_MAX) return v;
  return Array.from(v).slice(0, INDEX_TEXT_MAX).join('');
}
