/**
 * What of a search's query string may go into an AuditEvent. BALP stores the
 * query as entity.query (base64 of the query), but ours can carry an NHS
 * number, a name, a postcode or a birth date. An unkeyed hash of an NHS
 * number is no protection (there are only ~10^9 valid ones to try), so
 * values are not hashed: they are REPLACED by a marker unless the parameter
 * is on an allowlist of parameters whose values say nothing about who the
 * person is. An allowlist, not a blocklist, so a parameter added later is
 * redacted until someone decides otherwise. Parameter names, modifiers and
 * token systems are kept: an IG lead still sees "searched by NHS number".
 */
export const REDACTED = '[redacted]';

/** Parameters whose values are codes, counts, dates of events or paging: kept as sent. */
const SAFE_VALUES = new Set([
  '_count',
  '_sort',
  '_include',
  '_revinclude',
  '_summary',
  '_elements',
  '_total',
  '_lastUpdated',
  '_format',
  '_type',
  '_since',
  '_at',
  '_profile',
  '_security',
  '_tag',
  'status',
  'category',
  'code',
  'type',
  'intent',
  'clinical-status',
  'verification-status',
  'active',
  'date',
  'period',
  'authored',
]);
// Not listed, so redacted: paging cursors (they may encode the original query), _content, _text, names,
// identifiers, birthdate, address-*, phone, email, telecom, gender and anything added later.

/** Parameters holding references to our own resources: kept when the value is a plain reference to an opaque id. */
const REFERENCE_PARAMS = new Set(['_id', 'patient', 'subject', 'beneficiary', 'encounter', 'based-on', 'part-of', 'focus']);
// Our ids are UUIDs (deterministic v5, src/mapping/ids.ts); any other id could be a name typed as one.
const UUID_REF = '(?:[A-Z][A-Za-z]{1,40}\\/)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const OPAQUE_REFERENCE = new RegExp(`^${UUID_REF}(?:,${UUID_REF})*$`, 'i');
const URI_SYSTEM = /^(?:https?:\/\/|urn:)[^|\s]{1,200}$/;

/** The query string (without '?') with every value that could identify a person replaced. */
export function redactQuery(query: string): string {
  const raw = query.startsWith('?') ? query.slice(1) : query;
  if (raw === '') return '';
  const out: string[] = [];
  for (const [name, value] of new URLSearchParams(raw)) {
    out.push(`${encodeURIComponent(name)}=${encodeValue(redactValue(name, value))}`);
  }
  return out.join('&');
}

/** Ten digits on their own look like an NHS number wherever they appear. */
const NHS_NUMBER_SHAPED = /(?<![0-9])[0-9]{3}\s?[0-9]{3}\s?[0-9]{4}(?![0-9])/;

function redactValue(name: string, value: string): string {
  if (NHS_NUMBER_SHAPED.test(value)) return redactToken(value);
  // Chained (patient.identifier) and reverse-chained (_has:...) searches reach into other resources: never kept.
  if (name.includes('.') || name.startsWith('_has')) return redactToken(value);
  const base = name.split(':')[0]!;
  if (SAFE_VALUES.has(base) && !name.includes(':identifier')) return value;
  if (REFERENCE_PARAMS.has(base) && !name.includes(':') && OPAQUE_REFERENCE.test(value)) return value;
  return redactToken(value);
}

/** Keeps a token's system (which identifier was searched by), never its value. */
function redactToken(value: string): string {
  return value
    .split(',')
    .map((part) => {
      const bar = part.lastIndexOf('|');
      const system = bar > 0 ? part.slice(0, bar) : '';
      return URI_SYSTEM.test(system) ? `${system}|${REDACTED}` : REDACTED;
    })
    .join(',');
}

/** Encodes like URLSearchParams would, but leaves the marker and separators readable. */
function encodeValue(v: string): string {
  return encodeURIComponent(v).replace(/%5Bredacted%5D/g, REDACTED).replace(/%7C/g, '|').replace(/%2C/g, ',').replace(/%2F/g, '/').replace(/%3A/g, ':');
}
