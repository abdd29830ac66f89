import type { SqlClient } from '../db/sql-client.ts';

/**
 * What one instance tells the others when it changes something they cache
 * (docs: "Scaling out"): a person's facts, the sharing agreements, a client's
 * status. Sent with pg_notify through the writer's own client, so inside a
 * transaction PostgreSQL delivers it on COMMIT and drops it on ROLLBACK; the
 * listener (cluster-listener.ts) applies it to its instance's caches.
 *
 * The payload is ids only (opaque resource ids, client ids), never personal
 * data: it is visible to every session of the database that LISTENs.
 */
export type Invalidation =
  | { kind: 'facts'; patientIds: readonly string[] }
  | { kind: 'agreements' }
  | { kind: 'clients'; clientIds: readonly string[] }
  /** Every person's facts: a change we cannot attribute to people by id (an opt-out file is by NHS number), or too many ids. */
  | { kind: 'facts-all' }
  /** Everything the instance caches. */
  | { kind: 'all' };

/**
 * One channel per schema: deployments (and test suites) sharing one database
 * in different schemas do not drain each other's caches. Computed by the
 * server from the session's own search_path, so sender and listener agree
 * without configuration. 13 + 16 characters: well inside the 63-byte limit.
 */
export const CHANNEL_SQL = `'joinedup_inv_' || left(md5(current_schema()), 16)`;

/** PostgreSQL refuses payloads of 8000 bytes or more; leave room for the header. */
const MAX_PAYLOAD = 7_800;
/** More ids than fit in this many notifications: cheaper for everyone to drop the whole cache. */
const MAX_CHUNKS = 4;
const VERSION = 'v1';

/** Who sent it: an instance skips its own (it already invalidated in process). The CLI sends with a fresh one. */
export function newOrigin(): string {
  return Math.random().toString(36).slice(2, 10).padEnd(8, '0');
}

export function encodeInvalidation(inv: Invalidation, origin: string): string[] {
  const head = `${VERSION}|${origin}|`;
  switch (inv.kind) {
    case 'agreements':
      return [`${head}a`];
    case 'all':
      return [`${head}*`];
    case 'facts-all':
      return [`${head}f*`];
    case 'facts':
    case 'clients': {
      const ids = [...new Set(inv.kind === 'facts' ? inv.patientIds : inv.clientIds)];
      if (!ids.length) return [];
      const tag = inv.kind === 'facts' ? 'f' : 'c';
      const chunks: string[] = [];
      let current = '';
      for (const id of ids) {
        if (current && head.length + 2 + current.length + 1 + id.length > MAX_PAYLOAD) {
          chunks.push(`${head}${tag}|${current}`);
          current = '';
        }
        current = current ? `${current},${id}` : id;
      }
      if (current) chunks.push(`${head}${tag}|${current}`);
      // A client status change never reaches this; for facts, a bulk import does.
      if (chunks.length > MAX_CHUNKS) return [`${head}${inv.kind === 'facts' ? 'f*' : '*'}`];
      return chunks;
    }
  }
}

export interface DecodedInvalidation {
  origin: string;
  invalidation: Invalidation;
}

/** Undefined for anything this version does not understand (a newer instance's message); the caller drops everything then. */
export function decodeInvalidation(payload: string): DecodedInvalidation | undefined {
  const parts = payload.split('|');
  if (parts[0] !== VERSION || parts.length < 3) return undefined;
  const origin = parts[1]!;
  const tag = parts[2];
  const list = (): string[] => (parts[3] ?? '').split(',').filter(Boolean);
  if (tag === 'a' && parts.length === 3) return { origin, invalidation: { kind: 'agreements' } };
  if (tag === '*' && parts.length === 3) return { origin, invalidation: { kind: 'all' } };
  if (tag === 'f*' && parts.length === 3) return { origin, invalidation: { kind: 'facts-all' } };
  if (tag === 'f' && parts.length === 4) return { origin, invalidation: { kind: 'facts', patientIds: list() } };
  if (tag === 'c' && parts.length === 4) return { origin, invalidation: { kind: 'clients', clientIds: list() } };
  return undefined;
}

/**
 * Sends the invalidation through `sql` in one round trip (several
 * notifications when the ids do not fit one). Call it with the writing
 * transaction's client: delivered on COMMIT, never for a rollback.
 */
export async function publishInvalidation(sql: SqlClient, inv: Invalidation, origin: string = newOrigin()): Promise<void> {
  const payloads = encodeInvalidation(inv, origin);
  if (!payloads.length) return;
  await sql.query(`SELECT pg_notify(${CHANNEL_SQL}, p) FROM unnest($1::text[]) AS p`, [payloads]);
}
