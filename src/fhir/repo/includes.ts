import type { IncludeTarget, SearchRequest } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import type { SqlClient } from '../../db/sql-client.ts';
import type { AccessGate, LabelRow } from './gate-port.ts';
import { LABEL_COLUMNS } from './gate-port.ts';

type ContentRow = LabelRow & { content: string };

// :iterate follows references from included resources too; bounded so a
// cycle of references cannot run away.
const MAX_ITERATE_DEPTH = 3;

/** _include and _revinclude (R4 search.html#include), resolved through sp_reference. */
export async function loadIncludes(sql: SqlClient, req: SearchRequest, matches: Resource[], gate?: AccessGate): Promise<Resource[]> {
  const seen = new Set(matches.map(key));
  const result: Resource[] = [];
  let frontier = matches;
  for (let depth = 0; depth < MAX_ITERATE_DEPTH && frontier.length; depth++) {
    const iterateOnly = depth > 0;
    const found: Resource[] = [];
    for (const inc of req.include ?? []) {
      if (!iterateOnly || inc.modifier === 'iterate') {
        found.push(...(await permitted(sql, gate, await forward(sql, inc, frontier))));
      }
    }
    for (const inc of req.revInclude ?? []) {
      if (!iterateOnly || inc.modifier === 'iterate') {
        found.push(...(await permitted(sql, gate, await reverse(sql, inc, frontier))));
      }
    }
    const fresh = found.filter((r) => {
      const k = key(r);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
    result.push(...fresh);
    frontier = fresh;
  }
  return result;
}

/** An included resource is a disclosure like any match: withheld ones are never pulled in. */
async function permitted(sql: SqlClient, gate: AccessGate | undefined, rows: ContentRow[]): Promise<Resource[]> {
  const kept = gate ? await gate.filter(sql, rows, 'search') : rows;
  return kept.map((row) => JSON.parse(row.content) as Resource);
}

function key(r: Resource): string {
  return `${r.resourceType}/${r.id}`;
}

async function forward(sql: SqlClient, inc: IncludeTarget, from: Resource[]): Promise<ContentRow[]> {
  const ids = from.filter((r) => r.resourceType === inc.resourceType).map((r) => r.id as string);
  if (!ids.length) return [];
  const params: unknown[] = [inc.resourceType, inc.searchParam, ids];
  let typeFilter = '';
  if (inc.targetType) {
    params.push(inc.targetType);
    typeFilter = ' AND x.target_type = $4';
  }
  const r = await sql.query<ContentRow>(
    `SELECT DISTINCT ${LABEL_COLUMNS}, r.content FROM sp_reference x
       JOIN resource r ON r.resource_type = x.target_type AND r.id = x.target_id AND NOT r.deleted
     WHERE x.resource_type = $1 AND x.code = $2 AND x.id = ANY($3::text[])${typeFilter}`,
    params
  );
  return r.rows;
}

async function reverse(sql: SqlClient, inc: IncludeTarget, to: Resource[]): Promise<ContentRow[]> {
  const byType = new Map<string, string[]>();
  for (const r of to) {
    if (inc.targetType && r.resourceType !== inc.targetType) continue;
    byType.set(r.resourceType, [...(byType.get(r.resourceType) ?? []), r.id as string]);
  }
  const out: ContentRow[] = [];
  for (const [targetType, ids] of byType) {
    const r = await sql.query<ContentRow>(
      `SELECT DISTINCT ${LABEL_COLUMNS}, r.content FROM sp_reference x
         JOIN resource r ON r.resource_type = x.resource_type AND r.id = x.id AND NOT r.deleted
       WHERE x.resource_type = $1 AND x.code = $2 AND x.target_type = $3 AND x.target_id = ANY($4::text[])`,
      [inc.resourceType, inc.searchParam, targetType, ids]
    );
    out.push(...r.rows);
  }
  return out;
}
