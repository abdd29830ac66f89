import type { AuditEvent, Bundle } from '@medplum/fhirtypes';
import { auditEventOf } from '../audit/stored-event.ts';
import type { IgAuditRow } from './audit-query.ts';

export const IG_BASE_PATH = '/ig/v1';
export const CHAIN_HASH_URL = 'https://joinedup.org.uk/fhir/StructureDefinition/audit-chain-hash';
export const REVIEW_STATE_URL = 'https://joinedup.org.uk/fhir/StructureDefinition/audit-review-state';

/**
 * A stored record as a FHIR AuditEvent: its event as stored, or rendered
 * from the exchange's facts it stores (audit/stored-event.ts), with id =
 * seq (what reviews refer to as AuditEvent/<seq>), and meta carrying the chain hash so an IG lead can quote it, plus the
 * effective review state of an override.
 */
export function toAuditEvent(row: IgAuditRow): AuditEvent {
  const event = auditEventOf(row.content, row.seq);
  const extension = [{ url: CHAIN_HASH_URL, valueString: row.hash }];
  if (row.override && row.review_state) extension.push({ url: REVIEW_STATE_URL, valueString: row.review_state });
  return { ...event, id: String(row.seq), meta: { ...event.meta, lastUpdated: row.recorded, extension } };
}

/**
 * A searchset page. `next` carries only the cursor and the filters as the
 * caller sent them (already validated): our ids and codes, never an NHS
 * number, which no search parameter accepts.
 */
export function searchBundle(rows: IgAuditRow[], baseUrl: string, query: Record<string, string>, count: number): Bundle<AuditEvent> {
  const self = `${baseUrl}${IG_BASE_PATH}/audit-events`;
  const qs = (extra: Record<string, string>) => {
    const p = new URLSearchParams({ ...query, ...extra });
    const s = p.toString();
    return s ? `?${s}` : '';
  };
  const { _cursor: _c, ...filters } = query;
  const link: Bundle['link'] = [{ relation: 'self', url: `${self}${qs({})}` }];
  const last = rows[rows.length - 1];
  if (rows.length === count && last) link.push({ relation: 'next', url: `${self}${qs({ ...filters, _count: String(count), _cursor: String(last.seq) })}` });
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    link,
    entry: rows.map((r) => ({ fullUrl: `${self}/${r.seq}`, resource: toAuditEvent(r), search: { mode: 'match' } })),
  };
}
