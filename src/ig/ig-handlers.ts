import type { Request, Response } from 'express';
import { verifyAuditChainInDatabase } from '../audit/in-database-verify.ts';
import { sendJson } from '../http/fhir-response.ts';
import { httpError } from '../http/outcome.ts';
import type { AppDeps } from '../http/app.ts';
import type { RequestContext } from '../request-context.ts';
import { accessReportHtml, REPORT_CSP } from './access-report-html.ts';
import { accessReportCsv, loadAccessReport, patientIdsByNhsNumber } from './access-report.ts';
import { parseAuditFilters, parseAuditSearch, parseParams } from './audit-filters.ts';
import { searchBundle, toAuditEvent } from './audit-bundle.ts';
import { auditRowBySeq, searchAuditRows } from './audit-query.ts';
import { AUDIT_CSV_HEADER, auditCsvRow, csvLine } from './csv.ts';
import { igActorOf } from './ig-access.ts';
import type { IgExchangeAudit } from './ig-audit.ts';
import { accessReportBodySchema, formatSchema } from './report-params.ts';
import { parseQueueQuery, parseSeq, reviewOverride, reviewQueue } from './reviews.ts';
import { streamPages, writeChunk } from './stream-write.ts';

export type IgDeps = Pick<AppDeps, 'config' | 'db' | 'auth' | 'audit' | 'logger' | 'baseUrl'>;

/** Rows per query while exporting: one page in memory at a time. */
const CSV_PAGE = 1000;

/** A path parameter as one string (Express types them as possibly repeated). */
const param = (req: Request, name: string): string | undefined => {
  const v = req.params[name];
  return typeof v === 'string' ? v : undefined;
};
const contextOf = (res: Response) => res.locals.context as RequestContext;
const auditOf = (res: Response) => res.locals.igAudit as IgExchangeAudit;

/** Headers every IG answer carries: it is personal data about access, so never cached. */
function privateAnswer(res: Response): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
}

export async function searchEvents(deps: IgDeps, req: Request, res: Response): Promise<void> {
  const search = parseAuditSearch(req.query);
  const rows = await searchAuditRows(deps.db, search, search._count, search._cursor);
  privateAnswer(res);
  sendJson(res, 200, searchBundle(rows, deps.baseUrl, req.query as Record<string, string>, search._count));
}

export async function readEvent(deps: IgDeps, req: Request, res: Response): Promise<void> {
  const row = await auditRowBySeq(deps.db, parseSeq(param(req, 'seq')));
  if (!row) throw httpError(404, 'not-found', 'No such audit record');
  privateAnswer(res);
  sendJson(res, 200, toAuditEvent(row));
}

/**
 * The same filters and order as the search, as CSV, streamed page by page.
 * The exchange's audit record is committed before the first byte: once
 * streaming starts there is no taking the data back.
 */
export async function exportCsv(deps: IgDeps, req: Request, res: Response): Promise<void> {
  const filters = parseAuditFilters(req.query);
  await auditOf(res).commitNow(200);
  privateAnswer(res);
  res.status(200);
  res.setHeader('Content-Type', 'text/csv; charset=utf-8; header=present');
  res.setHeader('Content-Disposition', 'attachment; filename="audit-events.csv"');
  try {
    if (!(await writeChunk(res, csvLine(AUDIT_CSV_HEADER)))) return;
    await streamPages(res, (cursor) => searchAuditRows(deps.db, filters, CSV_PAGE, cursor), CSV_PAGE, auditCsvRow);
    res.end();
  } catch (err) {
    // The status is sent: the only honest signal left is a cut-off download (no final CRLF-terminated page).
    deps.logger.error({ requestId: contextOf(res).requestId, error: (err as Error)?.name, code: (err as { code?: string })?.code }, 'IG CSV export failed');
    res.destroy();
  }
}

export async function accessReportById(deps: IgDeps, req: Request, res: Response): Promise<void> {
  const { format } = parseParams(formatSchema, req.query);
  const id = param(req, 'patientId') ?? '';
  if (!/^[A-Za-z0-9\-.]{1,64}$/.test(id)) throw httpError(400, 'value', 'Not a Patient id', ['patientId']);
  const exists = await deps.db.query('SELECT 1 FROM resource WHERE resource_type = $1 AND id = $2', ['Patient', id]);
  // A person whose record was deleted still has accesses to report, so the audit trail counts too.
  const audited = exists.rows.length ? exists : await deps.db.query('SELECT 1 FROM audit_event WHERE patient_id = $1 LIMIT 1', [id]);
  if (!audited.rows.length) throw httpError(404, 'not-found', 'No record or audit trail for this Patient id');
  await sendReport(deps, res, [id], format);
}

/** Lookup by NHS number in the body, never in a URL (URLs end up in logs, histories and proxies). */
export async function accessReportByNhsNumber(deps: IgDeps, req: Request, res: Response): Promise<void> {
  const body = parseParams(accessReportBodySchema, req.body ?? {});
  const ids = await patientIdsByNhsNumber(deps.db, body.nhsNumber);
  if (!ids.length) throw httpError(404, 'not-found', 'No Patient record carries this NHS number');
  await sendReport(deps, res, ids, body.format);
}

async function sendReport(deps: IgDeps, res: Response, patientIds: string[], format: 'html' | 'csv'): Promise<void> {
  const entries = await loadAccessReport(deps.db, patientIds);
  const actor = igActorOf(contextOf(res));
  privateAnswer(res);
  if (format === 'csv') {
    res.status(200).type('text/csv; charset=utf-8; header=present').setHeader('Content-Disposition', 'attachment; filename="access-report.csv"');
    res.send(accessReportCsv(entries));
    return;
  }
  const by = `${actor.organisation.name} (${actor.organisation.ods})`;
  res.setHeader('Content-Security-Policy', REPORT_CSP);
  res.status(200).type('text/html; charset=utf-8').send(accessReportHtml({ patientIds, generatedAt: new Date(), generatedBy: by }, entries));
}

export async function listReviews(deps: IgDeps, req: Request, res: Response): Promise<void> {
  const q = parseQueueQuery(req.query);
  const rows = await reviewQueue(deps.db, q);
  const self = `${deps.baseUrl}/ig/v1/reviews`;
  const last = rows[rows.length - 1];
  const link = [{ relation: 'self', url: `${self}?state=${q.state}&_count=${q._count}${q._cursor ? `&_cursor=${q._cursor}` : ''}` }];
  if (rows.length === q._count && last) link.push({ relation: 'next', url: `${self}?state=${q.state}&_count=${q._count}&_cursor=${last.seq}` });
  privateAnswer(res);
  sendJson(res, 200, { resourceType: 'Bundle', type: 'searchset', link, entry: rows.map((r) => ({ fullUrl: `${deps.baseUrl}/ig/v1/audit-events/${r.seq}`, resource: toAuditEvent(r), search: { mode: 'match' } })) });
}

/** The review IS the audit record of this exchange: appended in its own transaction, before the answer. */
export async function postReview(deps: IgDeps, req: Request, res: Response): Promise<void> {
  const actor = igActorOf(contextOf(res));
  const seq = parseSeq(param(req, 'seq'));
  const row = await reviewOverride(deps.db, actor, seq, req.body, contextOf(res).requestId);
  auditOf(res).recordedElsewhere();
  privateAnswer(res);
  res.setHeader('Location', `${deps.baseUrl}/ig/v1/audit-events/${row.seq}`);
  sendJson(res, 201, toAuditEvent(row));
}

export async function verifyChain(deps: IgDeps, _req: Request, res: Response): Promise<void> {
  // One range: a second connection per request could starve the pool under concurrent checks (the CLI uses two).
  const r = await verifyAuditChainInDatabase(deps.db, { ranges: 1 });
  privateAnswer(res);
  res.status(200).type('application/json').send(JSON.stringify({ ok: r.ok, checked: r.checked, ...(r.firstBroken ? { firstBroken: r.firstBroken } : {}), head: r.head, ...(r.anchor ? { anchor: r.anchor } : {}) }));
}
