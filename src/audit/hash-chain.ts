import { createHash } from 'node:crypto';
import type { AuditColumns } from './types.ts';

/** prev_hash of the first record ever written. */
export const GENESIS_HASH = '0'.repeat(64);

/** Column order in the hash header. Changing it breaks every stored chain: never do. */
export const HEADER_COLUMNS = [
  'recorded',
  'patient_id',
  'client_id',
  'org_ods',
  'user_id',
  'purpose',
  'outcome',
  'action',
  'subtype',
  'lawful_basis',
  'override',
  'review_state',
  'reviews_seq',
] as const satisfies readonly (keyof AuditColumns)[];

/**
 * The canonical header: a JSON array of the searchable columns. The hash
 * covers it as well as the AuditEvent, so rewriting patient_id (what an IG
 * search by person finds) is as detectable as rewriting the event.
 * JSON.stringify of an array of strings, numbers and nulls is already canonical.
 */
export function hashHeader(c: AuditColumns): string {
  return headerFromValues(HEADER_COLUMNS.map((k) => c[k]));
}

/** The same header from the column values already in HEADER_COLUMNS order (the parallel verifier reads rows as arrays). */
export function headerFromValues(values: readonly (string | number | null)[]): string {
  return JSON.stringify(values);
}

/**
 * hash = sha256_hex(prev_hash || header || content). prev_hash is always 64
 * hex characters and the header a self-delimiting JSON array, so the
 * concatenation is unambiguous. content is the stored canonical text, hashed
 * as stored: verify never re-parses it (that is what makes verify fast).
 */
export function chainHash(prevHash: string, header: string, content: string): string {
  return createHash('sha256').update(prevHash).update(header).update(content).digest('hex');
}
