import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Database } from '../../src/db/sql-client.ts';

/*
 * Issue #6, "every exchange in the test suite leaves an AuditEvent", checked
 * over the whole run rather than in the few tests that look. Each test
 * gateway logs one `request` line per answer (requestId, method, route
 * shape, status); when it closes, the request ids its database's audit
 * records name are counted against those lines (a `.coverage.json` beside
 * its log), and the run's end fails if an exchange that must be audited
 * left no record.
 */

interface Covered {
  requestId: string;
  method: string;
  route: string;
  status: number;
  records: number;
}

/** The request ids audit records name: an exchange's facts' `request`, or a stored event's XrequestId entity. */
async function auditedRequestIds(db: Database): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  const r = await db.query<{ content: string }>('SELECT content FROM audit_event');
  for (const { content } of r.rows) {
    const v = JSON.parse(content) as { request?: string; entity?: { type?: { code?: string }; what?: { identifier?: { value?: string } } }[] };
    const id = v.request ?? v.entity?.find((e) => e.type?.code === 'XrequestId')?.what?.identifier?.value;
    if (id) ids.set(id, (ids.get(id) ?? 0) + 1);
  }
  return ids;
}

/** After a test gateway has closed (its log flushed), while its database is still open. */
export async function writeAuditCoverage(db: Database, logFile: string): Promise<void> {
  if (!existsSync(logFile)) return;
  const requests: Omit<Covered, 'records'>[] = [];
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.includes('"msg":"request"')) continue;
    const l = JSON.parse(line) as Omit<Covered, 'records'> & { msg: string };
    if (l.msg === 'request') requests.push({ requestId: l.requestId, method: l.method, route: l.route, status: l.status });
  }
  if (!requests.length) return;
  let audited: Map<string, number>;
  try {
    audited = await auditedRequestIds(db);
  } catch {
    // The test closed or dropped its database first: nothing to count against.
    return;
  }
  const rows: Covered[] = requests.map((q) => ({ ...q, records: audited.get(q.requestId) ?? 0 }));
  writeFileSync(logFile.replace(/\.ndjson$/, '.coverage.json'), JSON.stringify(rows));
}

/** Public documents and definitions: no person, no exchange to record. */
const PUBLIC = /^\/(\.well-known\/|healthz|readyz|fhir\/\.well-known\/|fhir\/metadata$|fhir\/CodeSystem(\/|$)|council\/v1\/schema|fhir\/Measure(\/:id)?$)/;
/** IG web page answers that show or change personal data, so are audited like the IG API. */
const IG_WEB_AUDITED = new Set([
  'GET /ig/audit 200',
  'GET /ig/audit.csv 200',
  'POST /ig/access-report 200',
  'GET /ig/reviews 200',
  'POST /ig/reviews/:id 303',
  'POST /ig/what-if 200',
]);
/** The APIs whose every answered exchange is audited. */
const AUDITED_API = /^\/(fhir\/|council\/v1\/(records|import)$|cds-services\/|ig\/v1\/)/;

/**
 * Whether an answer must have left an audit record. Not: 401 (no verified
 * party), 429 (refused before any work, so a flood cannot fill the audit
 * trail), 5xx (the exchange failed; an audit that cannot be committed is
 * itself a 500), and requests refused for their form before they were an
 * exchange (unparseable body, wrong media type or method, unknown
 * endpoint). Must: every success and every 403 (a refusal) on the APIs, and
 * every refused token request (a security event).
 */
export function mustBeAudited(c: Pick<Covered, 'method' | 'route' | 'status'>): boolean {
  if (c.route === '/auth/token') return c.status === 400 || c.status === 401;
  // The IG web page's views of personal data (docs/ig-web.md); its other pages show none.
  if (c.route.startsWith('/ig/') && !c.route.startsWith('/ig/v1/')) return IG_WEB_AUDITED.has(`${c.method} ${c.route} ${c.status}`);
  if (c.status === 401 || c.status === 429 || c.status >= 500) return false;
  if (PUBLIC.test(c.route) || !AUDITED_API.test(c.route)) return false;
  return (c.status >= 200 && c.status < 300) || c.status === 403;
}

/** Unaudited exchanges across the run's coverage files, as lines for an error message. */
export function unauditedExchanges(dir: string): { checked: number; problems: string[] } {
  let checked = 0;
  const problems: string[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.coverage.json'))) {
    for (const c of JSON.parse(readFileSync(join(dir, f), 'utf8')) as Covered[]) {
      if (!mustBeAudited(c)) continue;
      checked++;
      if (c.records === 0) problems.push(`${c.method} ${c.route} ${c.status} (request ${c.requestId}, ${f})`);
    }
  }
  return { checked, problems };
}
