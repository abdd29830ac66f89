import type { SqlClient } from '../../db/sql-client.ts';
import type { FactsCache } from '../facts/facts-cache.ts';
import type { PersonFacts } from '../types.ts';

/**
 * Rule 7 decides a carer's details in someone else's record on the carer's
 * own facts. The carer is found by the identifier the RelatedPerson carries
 * ("system|value"); several councils may each hold a record of the same
 * carer, so their consents are pooled: a carer's consent is theirs wherever
 * it was recorded. Unknown carers map to undefined (no consent: withheld).
 */
export async function carerFacts(sql: SqlClient, cache: FactsCache, tokens: readonly string[]): Promise<Map<string, PersonFacts | undefined>> {
  const out = new Map<string, PersonFacts | undefined>();
  const unique = [...new Set(tokens)];
  if (!unique.length) return out;
  const systems = unique.map((t) => t.slice(0, t.indexOf('|')));
  const values = unique.map((t) => t.slice(t.indexOf('|') + 1));
  const r = await sql.query<{ id: string; token: string }>(
    `SELECT DISTINCT t.id, t.system || '|' || t.value AS token
       FROM sp_token t JOIN unnest($1::text[], $2::text[]) AS q(system, value) ON t.system = q.system AND t.value = q.value
      WHERE t.resource_type = 'Patient' AND t.code = 'identifier'`,
    [systems, values]
  );
  const facts = await cache.get(sql, r.rows.map((x) => x.id));
  for (const token of unique) {
    const ids = r.rows.filter((x) => x.token === token).map((x) => x.id);
    const found = ids.map((id) => facts.get(id)).filter((f): f is PersonFacts => !!f);
    const first = found[0];
    out.set(token, first ? { ...first, consents: found.flatMap((f) => f.consents) } : undefined);
  }
  return out;
}
