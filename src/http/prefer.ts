/** The Prefer header (RFC 7240) as FHIR uses it: return= and handling=. */
export interface Preferences {
  return?: 'minimal' | 'representation' | 'OperationOutcome';
  strict: boolean;
}

export function parsePrefer(header: string | string[] | undefined): Preferences {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  const prefs: Preferences = { strict: false };
  for (const part of text.split(/[,;]/)) {
    const [k, v] = part.split('=').map((s) => s.trim().replace(/^"|"$/g, ''));
    if (k === 'return' && (v === 'minimal' || v === 'representation' || v === 'OperationOutcome')) {
      prefs.return = v;
    } else if (k === 'handling') {
      prefs.strict = v === 'strict';
    }
  }
  return prefs;
}
