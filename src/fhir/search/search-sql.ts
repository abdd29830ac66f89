import { OperationOutcomeError, badRequest, parseSearchRequest } from '@medplum/core';
import type { Filter, SearchRequest, SortRule } from '@medplum/core';
import { SUPPORTED_RESOURCE_TYPES, isSupportedResourceType } from '../resource-types.ts';
import { parseChain } from './chain.ts';
import { parseDateRange } from './date-range.ts';
import type { DateRange } from './date-range.ts';
import { indexText } from './index-text.ts';
import { splitReference } from './index-values.ts';
import { normalizeString } from './normalize.ts';
import { indexedParam } from './search-params.ts';
import type { IndexedParam } from './search-params.ts';
import { SqlParams } from './sql-params.ts';

/**
 * Turns a parsed FHIR search into SQL over the resource table and the search
 * index tables. Every condition is an indexed semi-join (r.id IN (...)), never
 * a scan of resource JSON.
 */
export interface CompiledSearch {
  /** Conditions on alias r (resource), joined with AND. */
  where: string;
  /** How many of params.values the WHERE clause uses (sort parameters follow). */
  whereParamCount: number;
  orderBy: string;
  params: SqlParams;
}

const TABLE = { token: 'sp_token', string: 'sp_string', reference: 'sp_reference', date: 'sp_date' } as const;

function invalid(message: string, code: string): OperationOutcomeError {
  return new OperationOutcomeError(badRequest(message, code));
}

/** Removes FHIR search escapes (a backslash before , | $ or another backslash) once a value has been split. */
function unescapeValue(v: string): string {
  return v.replace(/\\([,|$\\])/g, '$1');
}

/** Splits on commas not escaped with a backslash (FHIR's OR), leaving other escapes in place. */
function splitOrRaw(value: string): string[] {
  return value.split(/(?<!\\),/).filter((v) => v !== '');
}

/** Splits a search value on commas not escaped with a backslash (FHIR's OR). */
export function splitOr(value: string): string[] {
  return splitOrRaw(value).map(unescapeValue);
}

/** Splits one still-escaped system|code on the first unescaped bar, then unescapes both halves. */
function splitBar(value: string): [string | undefined, string] {
  const i = value.search(/(?<!\\)\|/);
  return i < 0 ? [undefined, unescapeValue(value)] : [unescapeValue(value.slice(0, i)), unescapeValue(value.slice(i + 1))];
}

function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * Under the lawful-basis gate a chain must not look through a withheld
 * resource (Task?based-on:ServiceRequest.status=x would otherwise reveal a
 * withheld ServiceRequest's status): the caller resolves each chained filter
 * to the permitted target ids first, per target type, and the chain then
 * matches only those.
 */
export type ResolvedChains = Map<Filter, Map<string, string[]>>;

/** The (target type, inner filter) pairs a chained filter searches, for resolving it in steps. */
export function chainTargets(resourceType: string, f: Filter): { target: string; inner: Filter }[] {
  const chain = parseChain(resourceType, f.code);
  if (!chain) throw invalid(`Chained search "${f.code}" is not supported on ${resourceType}`, f.code);
  return chain.targetTypes.map((target) => {
    const inner = parseSearchRequest(target, { [chain.rest]: f.value }).filters?.[0];
    if (!inner) throw invalid(`Chained search "${f.code}" has no value`, f.code);
    return { target, inner };
  });
}

export function compileSearch(req: SearchRequest, baseUrl: string, resolved?: ResolvedChains): CompiledSearch {
  const params = new SqlParams();
  const rt = params.add(req.resourceType);
  const conditions = [`r.resource_type = ${rt}`, 'NOT r.deleted'];
  for (const filter of req.filters ?? []) {
    const ids = resolved?.get(filter);
    conditions.push(ids ? resolvedChainCondition(req.resourceType, filter, ids, rt, params) : compileFilter(req.resourceType, filter, rt, params, baseUrl));
  }
  const whereParamCount = params.values.length;
  return {
    where: conditions.join(' AND '),
    whereParamCount,
    orderBy: compileSort(req.resourceType, req.sortRules ?? [], params),
    params,
  };
}

function compileFilter(resourceType: string, f: Filter, rt: string, p: SqlParams, baseUrl: string): string {
  if (f.code.includes('.')) {
    return chainCondition(resourceType, f, rt, p, baseUrl);
  }
  if (f.code === '_id') {
    const ids = p.add(splitOr(f.value));
    if (f.operator === 'eq') return `r.id = ANY(${ids}::text[])`;
    if (f.operator === 'not' || f.operator === 'ne') return `r.id <> ALL(${ids}::text[])`;
    throw invalid(`Modifier or prefix "${f.operator}" is not supported on _id`, '_id');
  }
  if (f.code === '_lastUpdated') {
    const parts = splitOr(f.value).map((v) => dateCondition(f.operator, v, 'r.last_updated', 'r.last_updated', p, f.code));
    return `(${parts.join(' OR ')})`;
  }
  const param = indexedParam(resourceType, f.code);
  if (!param) {
    throw invalid(`Unknown search parameter "${f.code}" for ${resourceType}`, f.code);
  }
  const table = TABLE[param.kind];
  const code = p.add(param.code);
  if (f.operator === 'missing' || f.operator === 'present') {
    const v = f.value.toLowerCase();
    if (v !== 'true' && v !== 'false') {
      throw invalid(`:${f.operator} takes true or false, not "${f.value}"`, f.code);
    }
    const wantMissing = (v === 'true') === (f.operator === 'missing');
    const present = `r.id IN (SELECT x.id FROM ${table} x WHERE x.resource_type = ${rt} AND x.code = ${code})`;
    return wantMissing ? `NOT (${present})` : present;
  }
  // Token and :identifier values are split on "|" before unescaping, so an escaped bar stays part of the value.
  const raw = splitOrRaw(f.value);
  if (raw.length === 0) {
    throw invalid(`Search parameter "${f.code}" has no value`, f.code);
  }
  const values = raw.map(unescapeValue);
  switch (param.kind) {
    case 'token':
      return tokenCondition(f, raw, table, rt, code, p);
    case 'string':
      return stringCondition(f, values, table, rt, code, p);
    case 'reference':
      return referenceCondition(param, f, f.operator === 'identifier' ? raw : values, rt, code, p, baseUrl);
    case 'date': {
      const parts = values.map((v) => dateCondition(f.operator, v, 'x.low', 'x.high', p, f.code));
      return `r.id IN (SELECT x.id FROM sp_date x WHERE x.resource_type = ${rt} AND x.code = ${code} AND (${parts.join(' OR ')}))`;
    }
  }
}

/**
 * subject.name=x: resources whose subject is a resource (of a permitted
 * target type) matching name=x. The inner search is compiled like any other,
 * with its own alias r shadowing the outer one.
 */
function chainCondition(resourceType: string, f: Filter, rt: string, p: SqlParams, baseUrl: string): string {
  const chain = parseChain(resourceType, f.code);
  if (!chain) {
    throw invalid(`Chained search "${f.code}" is not supported on ${resourceType}`, f.code);
  }
  const code = p.add(chain.param.code);
  const branches = chain.targetTypes.map((target) => {
    // Parse the rest on the target type so its prefixes and modifiers mean what they mean there.
    const inner = parseSearchRequest(target, { [chain.rest]: f.value }).filters?.[0];
    if (!inner) throw invalid(`Chained search "${f.code}" has no value`, f.code);
    const tt = p.add(target);
    const condition = compileFilter(target, inner, tt, p, baseUrl);
    return `(x.target_type = ${tt} AND x.target_id IN (SELECT r.id FROM resource r WHERE r.resource_type = ${tt} AND NOT r.deleted AND ${condition}))`;
  });
  return `r.id IN (SELECT x.id FROM sp_reference x WHERE x.resource_type = ${rt} AND x.code = ${code} AND (${branches.join(' OR ')}))`;
}

function resolvedChainCondition(resourceType: string, f: Filter, ids: Map<string, string[]>, rt: string, p: SqlParams): string {
  const chain = parseChain(resourceType, f.code);
  if (!chain) throw invalid(`Chained search "${f.code}" is not supported on ${resourceType}`, f.code);
  const code = p.add(chain.param.code);
  const branches = [...ids].map(([target, targetIds]) => `(x.target_type = ${p.add(target)} AND x.target_id = ANY(${p.add(targetIds)}::text[]))`);
  if (!branches.length) return 'false';
  return `r.id IN (SELECT x.id FROM sp_reference x WHERE x.resource_type = ${rt} AND x.code = ${code} AND (${branches.join(' OR ')}))`;
}

function tokenCondition(f: Filter, values: string[], table: string, rt: string, code: string, p: SqlParams): string {
  if (f.operator !== 'eq' && f.operator !== 'not') {
    throw invalid(`Modifier "${f.operator}" is not supported on token parameter "${f.code}"`, f.code);
  }
  const parts = values.map((v) => {
    const [system, value] = splitBar(v);
    if (system === undefined) return `x.value = ${p.add(indexText(value))}`;
    if (value === '') return `x.system = ${p.add(indexText(system))}`;
    if (system === '') return `(x.system IS NULL AND x.value = ${p.add(indexText(value))})`;
    return `(x.value = ${p.add(indexText(value))} AND x.system = ${p.add(indexText(system))})`;
  });
  const match = `r.id IN (SELECT x.id FROM ${table} x WHERE x.resource_type = ${rt} AND x.code = ${code} AND (${parts.join(' OR ')}))`;
  return f.operator === 'not' ? `NOT (${match})` : match;
}

function stringCondition(f: Filter, values: string[], table: string, rt: string, code: string, p: SqlParams): string {
  const parts = values.map((v) => {
    switch (f.operator) {
      case 'eq':
        return `x.value LIKE ${p.add(`${likeEscape(indexText(normalizeString(v)))}%`)}`;
      case 'exact':
        return `x.exact = ${p.add(indexText(v))}`;
      case 'contains':
        return `x.value LIKE ${p.add(`%${likeEscape(indexText(normalizeString(v)))}%`)}`;
      default:
        throw invalid(`Modifier "${f.operator}" is not supported on string parameter "${f.code}"`, f.code);
    }
  });
  return `r.id IN (SELECT x.id FROM ${table} x WHERE x.resource_type = ${rt} AND x.code = ${code} AND (${parts.join(' OR ')}))`;
}

function referenceCondition(
  param: IndexedParam,
  f: Filter,
  values: string[],
  rt: string,
  code: string,
  p: SqlParams,
  baseUrl: string
): string {
  if (f.operator === 'identifier') {
    // Matches a Reference.identifier written on the resource, or a reference
    // to a resource that carries that identifier (what a GP system asking
    // "CarePlans for this NHS number" means).
    // Naming the target types lets the sp_token lookup use its index, whose
    // leading column is resource_type, instead of reading the whole index.
    const targets = p.add(referenceTargets(param));
    const branches = values.flatMap((v) => {
      const [system, value] = splitBar(v);
      const val = p.add(indexText(value));
      const sys = system ? p.add(indexText(system)) : undefined;
      const tokenSys = sys ? ` AND t.system = ${sys}` : '';
      const identSys = sys ? ` AND x.ident_system = ${sys}` : '';
      return [
        `SELECT x.id FROM sp_reference x JOIN sp_token t ON t.resource_type = x.target_type AND t.id = x.target_id AND t.code = 'identifier'
           WHERE x.resource_type = ${rt} AND x.code = ${code} AND t.resource_type = ANY(${targets}::text[]) AND t.value = ${val}${tokenSys}`,
        `SELECT x.id FROM sp_reference x WHERE x.resource_type = ${rt} AND x.code = ${code} AND x.ident_value = ${val}${identSys}`,
      ];
    });
    return `r.id IN (${branches.join(' UNION ')})`;
  }
  if (f.operator !== 'eq' && f.operator !== 'not') {
    throw invalid(`Modifier "${f.operator}" is not supported on reference parameter "${f.code}"`, f.code);
  }
  const parts = values.map((raw) => {
    const v = raw.startsWith(`${baseUrl}/`) ? raw.slice(baseUrl.length + 1) : raw;
    const slash = v.indexOf('/');
    if (/^[a-z][a-z0-9+.-]*:/i.test(v)) {
      return `x.reference = ${p.add(indexText(v))}`;
    }
    if (slash > 0) {
      // Type/id, or Type/id/_history/n: the index holds the resource, not the version.
      const typed = splitReference(v) ?? { type: v.slice(0, slash), id: v.slice(slash + 1) };
      return `(x.target_id = ${p.add(typed.id)} AND x.target_type = ${p.add(typed.type)})`;
    }
    const only = param.targets.length === 1 ? ` AND x.target_type = ${p.add(param.targets[0])}` : '';
    return `(x.target_id = ${p.add(v)}${only})`;
  });
  const match = `r.id IN (SELECT x.id FROM sp_reference x WHERE x.resource_type = ${rt} AND x.code = ${code} AND (${parts.join(' OR ')}))`;
  return f.operator === 'not' ? `NOT (${match})` : match;
}

/** Types a reference parameter may point to that this server stores (all of them when the definition names none). */
function referenceTargets(param: IndexedParam): string[] {
  const stored = param.targets.filter(isSupportedResourceType);
  return param.targets.length ? stored : [...SUPPORTED_RESOURCE_TYPES];
}

/**
 * FHIR date comparison between the search value's range [pl, ph] and the
 * indexed range [low, high] (R4 search, "date"): eq means the value range
 * contains the indexed range; gt/lt/ge/le compare the ends; sa/eb mean
 * starts after / ends before; ap means overlap.
 */
function dateCondition(op: string, value: string, low: string, high: string, p: SqlParams, code: string): string {
  const range: DateRange | undefined = parseDateRange(value);
  if (!range) {
    throw invalid(`"${value}" is not a valid date for search parameter "${code}"`, code);
  }
  // Parameters are added only when used: PostgreSQL refuses unused ones.
  const pl = (): string => `${p.add(range.low)}::timestamptz`;
  const ph = (): string => `${p.add(range.high)}::timestamptz`;
  switch (op) {
    case 'eq':
      return `(${low} >= ${pl()} AND ${high} <= ${ph()})`;
    case 'ne':
      return `NOT (${low} >= ${pl()} AND ${high} <= ${ph()})`;
    case 'gt':
      return `${high} > ${ph()}`;
    case 'lt':
      return `${low} < ${pl()}`;
    case 'ge':
      return `${high} >= ${pl()}`;
    case 'le':
      return `${low} <= ${ph()}`;
    case 'sa':
      return `${low} > ${ph()}`;
    case 'eb':
      return `${high} < ${pl()}`;
    case 'ap':
      return `(${low} <= ${ph()} AND ${high} >= ${pl()})`;
    default:
      throw invalid(`Prefix or modifier "${op}" is not supported on date parameter "${code}"`, code);
  }
}

function compileSort(resourceType: string, rules: SortRule[], p: SqlParams): string {
  const terms: string[] = [];
  for (const rule of rules) {
    const dir = rule.descending ? 'DESC' : 'ASC';
    if (rule.code === '_lastUpdated') {
      terms.push(`r.last_updated ${dir}`);
      continue;
    }
    if (rule.code === '_id') {
      terms.push(`r.id ${dir}`);
      continue;
    }
    const param = indexedParam(resourceType, rule.code);
    if (!param) {
      throw invalid(`Cannot sort by unknown search parameter "${rule.code}"`, '_sort');
    }
    const agg = rule.descending ? 'max' : 'min';
    const column = { token: 'value', string: 'value', reference: 'target_id', date: rule.descending ? 'high' : 'low' }[param.kind];
    terms.push(
      `(SELECT ${agg}(x.${column}) FROM ${TABLE[param.kind]} x WHERE x.resource_type = r.resource_type AND x.id = r.id AND x.code = ${p.add(param.code)}) ${dir} NULLS LAST`
    );
  }
  // A unique last key keeps pages stable, so next/previous links never skip or
  // repeat. It runs the same way as the key before it, so a sort on
  // _lastUpdated alone can walk resource_last_updated_idx in either direction.
  if (!rules.some((r) => r.code === '_id')) {
    terms.push(`r.id ${rules.at(-1)?.descending ? 'DESC' : 'ASC'}`);
  }
  return terms.join(', ');
}
