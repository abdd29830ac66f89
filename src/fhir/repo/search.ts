import type { SearchRequest } from '@medplum/core';
import type { Bundle, BundleEntry, BundleLink, Resource } from '@medplum/fhirtypes';
import type { SqlClient } from '../../db/sql-client.ts';
import { DEFAULT_COUNT, MAX_COUNT, searchQuery } from '../search/search-links.ts';
import { chainTargets, compileSearch } from '../search/search-sql.ts';
import type { ResolvedChains } from '../search/search-sql.ts';
import { MAX_GATED_MATCHES } from './gated-rows.ts';
import { subsetResource } from '../search/subset.ts';
import { loadIncludes } from './includes.ts';
import type { AccessGate, LabelRow } from './gate-port.ts';
import { LABEL_COLUMNS } from './gate-port.ts';
import { gatedPage, labelsWithLeadingContent, loadContents } from './gated-rows.ts';

/** Runs a search and assembles the searchset Bundle: matches, includes, total, links. */
export async function runSearch(sql: SqlClient, baseUrl: string, req: SearchRequest, gate?: AccessGate): Promise<Bundle> {
  const count = Math.min(wholeNumber(req.count, DEFAULT_COUNT), MAX_COUNT);
  const offset = wholeNumber(req.offset, 0);
  const compiled = compileSearch(req, baseUrl, gate ? await resolveChains(sql, gate, baseUrl, req) : undefined);
  const values = compiled.params.values;
  const from = `FROM resource r WHERE ${compiled.where}`;

  let rows: { id: string; content: string }[] = [];
  let hasMore = false;
  let total: number | undefined;
  if (gate) {
    // Content comes with the labels for the page and as many rows again, for what the gate may withhold.
    const columns = labelsWithLeadingContent(LABEL_COLUMNS, compiled.orderBy, 2 * (offset + count) + 10);
    const gated = await gatedPage(sql, gate, { text: `SELECT ${columns} ${from} ORDER BY ${compiled.orderBy}`, values }, offset, count);
    rows = (await loadContents(sql, gated.page)).map((x) => ({ id: x.row.id, content: x.content }));
    hasMore = gated.hasMore;
    if (req.total !== 'none') total = gated.total;
  } else if (count > 0) {
    // One row more than the page tells whether a next page exists without counting.
    const r = await sql.query<{ id: string; content: string }>(
      `SELECT r.id, r.content ${from} ORDER BY ${compiled.orderBy} LIMIT ${count + 1} OFFSET ${offset}`,
      values
    );
    rows = r.rows.slice(0, count);
    hasMore = r.rows.length > count;
  }
  if (!gate && req.total !== 'none') {
    if (count > 0 && !hasMore && (offset === 0 || rows.length > 0)) {
      total = offset + rows.length;
    } else {
      const c = await sql.query<{ n: number }>(`SELECT count(*)::int AS n ${from}`, values.slice(0, compiled.whereParamCount));
      total = c.rows[0]?.n ?? 0;
    }
  }

  const matches = rows.map((row) => JSON.parse(row.content) as Resource);
  const entry: BundleEntry[] = matches.map((m) => ({
    fullUrl: `${baseUrl}/${m.resourceType}/${m.id}`,
    resource: subsetResource(m, req.fields, req.summary),
    search: { mode: 'match' },
  }));
  if (matches.length && (req.include?.length || req.revInclude?.length)) {
    for (const inc of await loadIncludes(sql, req, matches, gate)) {
      entry.push({ fullUrl: `${baseUrl}/${inc.resourceType}/${inc.id}`, resource: inc, search: { mode: 'include' } });
    }
  }

  // Links carry the page size actually used (after the MAX_COUNT cap), so they step by it.
  const url = (at: number): string => `${baseUrl}/${req.resourceType}?${searchQuery({ ...req, count }, at)}`;
  const link: BundleLink[] = [{ relation: 'self', url: url(offset) }];
  if (hasMore) {
    link.push({ relation: 'next', url: url(offset + count) });
  }
  if (offset > 0 && count > 0) {
    link.push({ relation: 'previous', url: url(Math.max(offset - count, 0)) });
  }
  const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', link };
  if (total !== undefined) {
    bundle.total = total;
  }
  // FHIR JSON never carries empty arrays: no matches (or _summary=count) means no entry element.
  if (entry.length) {
    bundle.entry = entry;
  }
  return bundle;
}

/** @medplum/core parses _count/_offset with parseInt: NaN or negatives must not reach the SQL. */
function wholeNumber(n: number | undefined, fallback: number): number {
  return n !== undefined && Number.isInteger(n) && n >= 0 ? n : fallback;
}

/**
 * Chained filters, resolved through the gate one link at a time (innermost
 * first): each link matches only targets the requester may see, so a chain
 * never reveals anything about a withheld resource.
 */
async function resolveChains(sql: SqlClient, gate: AccessGate, baseUrl: string, req: SearchRequest): Promise<ResolvedChains | undefined> {
  const chained = (req.filters ?? []).filter((f) => f.code.includes('.'));
  if (!chained.length) return undefined;
  const out: ResolvedChains = new Map();
  for (const f of chained) {
    const byType = new Map<string, string[]>();
    for (const { target, inner } of chainTargets(req.resourceType, f)) {
      const innerReq = { resourceType: target, filters: [inner] } as SearchRequest;
      const compiled = compileSearch(innerReq, baseUrl, await resolveChains(sql, gate, baseUrl, innerReq));
      const rows = await sql.query<LabelRow>(`SELECT ${LABEL_COLUMNS} FROM resource r WHERE ${compiled.where} LIMIT ${MAX_GATED_MATCHES}`, compiled.params.values);
      byType.set(target, (await gate.filter(sql, rows.rows, 'search')).map((r) => r.id));
    }
    out.set(f, byType);
  }
  return out;
}
