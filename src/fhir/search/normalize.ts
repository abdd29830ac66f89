/** Case- and accent-insensitive form used for FHIR string search. */
export function normalizeString(s: string): string {
  return s
    .normalize('NFD')
    .replace(/\p{Diacritic}/gu, '')
    .toLowerCase()
    .trim();
}
