import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { auditEventOf } from '../../src/audit/stored-event.ts';
import { verifyAuditChain } from '../../src/audit/verify.ts';
import { parseScopes } from '../../src/auth/scopes.ts';
import { makeTestNhsNumber } from '../../src/fhir/validation/nhs-number.ts';
import { backends } from '../support/backends.ts';
import { suiteServer } from '../support/test-server.ts';
import { consent, item, patient, registerClients, tokenFor, writeAs } from '../gate/http-scenario-setup.ts';

/**
 * Issue #6 through the real API: every exchange leaves its AuditEvent with the
 * gate's decision and lawful basis; writes are audited in their own
 * transaction, reads before the answer; failed token requests are security
 * events; and the chain those records form verifies.
 */
const DIRECT_CARE = JSON.parse(readFileSync(new URL('../../docs/examples/agreements/midshire-direct-care.json', import.meta.url), 'utf8'));

interface Row {
  seq: number;
  patient_id: string | null;
  org_ods: string | null;
  outcome: string;
  action: string;
  subtype: string;
  lawful_basis: string | null;
  override: string | null;
  review_state: string | null;
  content: string;
}

describe.each(backends())('audit of exchanges ($name)', (backend) => {
  const s = suiteServer(backend);
  const P = 'au-p';
  let gp = '';
  let stranger = '';
  let council = '';

  const since = async (seq: number): Promise<Row[]> =>
    (await s.db.query<Row>('SELECT seq, patient_id, org_ods, outcome, action, subtype, lawful_basis, override, review_state, content FROM audit_event WHERE seq > $1 ORDER BY seq', [seq])).rows.map((r) => ({
      ...r,
      seq: Number(r.seq),
    }));
  const head = async (): Promise<number> => Number((await s.db.query<{ n: string | null }>('SELECT max(seq) AS n FROM audit_event')).rows[0]?.n ?? 0);

  beforeAll(async () => {
    await registerClients(s);
    await s.addAgreement(DIRECT_CARE);
    await writeAs(s, 'X9C01', patient(P, makeTestNhsNumber(4242), { birthDate: '1950-01-01', gp: 'X99001' }), item('care-plan', 'au-cp', P), item('assessments', 'au-t', P));
    await writeAs(s, 'X9C01', consent('au-refusal', P, { id: 'au-refusal', decision: 'refused', dateTime: '2026-01-01', provisions: [{ type: 'deny', classes: ['assessments'] }] }));
    gp = await tokenFor(s, { ods: 'X99001', purpose: 'TREAT' });
    stranger = await tokenFor(s, { ods: 'X99002', purpose: 'TREAT' });
    council = await tokenFor(s, { ods: 'X9C01', purpose: 'CAREMGT' });
  });

  it('a permitted read leaves one AuditEvent naming the person, the resource and the lawful basis', async () => {
    const before = await head();
    expect((await s.request('GET', 'CarePlan/au-cp', undefined, { authorization: `Bearer ${gp}` })).status).toBe(200);
    const rows = await since(before);
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(row).toMatchObject({ patient_id: P, org_ods: 'X99001', outcome: 'permit', action: 'R', subtype: 'read', lawful_basis: 'art6-1-e', override: null });
    const event = auditEventOf(row!.content);
    expect((event.entity ?? []).map((e) => e.what?.reference).filter(Boolean)).toEqual([`Patient/${P}`, 'CarePlan/au-cp']);
    expect(JSON.stringify(event)).not.toContain(makeTestNhsNumber(4242));
  });

  it('a withheld read is a 404 and a denied AuditEvent; a search that withholds part is permit-withheld', async () => {
    let before = await head();
    expect((await s.request('GET', 'Task/au-t', undefined, { authorization: `Bearer ${gp}` })).status).toBe(404);
    let rows = await since(before);
    expect(rows.map((r) => [r.outcome, r.patient_id, r.lawful_basis])).toEqual([['deny', P, null]]);
    expect((auditEventOf(rows[0]!.content).entity ?? []).some((e) => e.what?.reference === 'Task/au-t')).toBe(false);

    before = await head();
    const all = await s.request('GET', `Patient/${P}/$everything`, undefined, { authorization: `Bearer ${gp}` });
    expect(all.status).toBe(200);
    rows = await since(before);
    expect(rows.map((r) => [r.outcome, r.subtype, r.patient_id])).toEqual([['permit-withheld', 'operation', P]]);
  });

  it('a stranger learns nothing and leaves a denial', async () => {
    const before = await head();
    expect((await s.request('GET', `Patient/${P}`, undefined, { authorization: `Bearer ${stranger}` })).status).toBe(404);
    expect((await since(before)).map((r) => [r.outcome, r.org_ods])).toEqual([['deny', 'X99002']]);
  });

  it('a write is audited once, in its own transaction; a refused or invalid write leaves no permit', async () => {
    let before = await head();
    const cp = (await s.request('GET', 'CarePlan/au-cp', undefined, { authorization: `Bearer ${council}` })).body;
    before = await head();
    const put = await s.request('PUT', 'CarePlan/au-cp', { ...cp, meta: undefined, description: 'updated' }, { authorization: `Bearer ${council}` });
    expect(put.status).toBe(200);
    let rows = await since(before);
    expect(rows.map((r) => [r.outcome, r.action, r.subtype, r.patient_id])).toEqual([['permit', 'U', 'update', P]]);

    before = await head();
    const bad = await s.request('PUT', 'CarePlan/au-cp', { ...cp, meta: undefined, status: 'not-a-status' }, { authorization: `Bearer ${council}` });
    expect(bad.status).toBe(400 <= bad.status && bad.status < 500 ? bad.status : -1);
    rows = await since(before);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.outcome).toBe('error');
    // The rolled-back write left nothing of itself: still version 2.
    expect((await s.request('GET', 'CarePlan/au-cp', undefined, { authorization: `Bearer ${council}` })).body.meta.versionId).toBe('2');
  });

  it('break-glass reads are flagged for review with the justification; failed token requests are security events', async () => {
    const btg = await tokenFor(s, { ods: 'X99002', purpose: 'BTG', justification: 'Unconscious in A&E, no history available' });
    let before = await head();
    expect((await s.request('GET', `Patient/${P}`, undefined, { authorization: `Bearer ${btg}` })).status).toBe(200);
    let rows = await since(before);
    expect(rows.map((r) => [r.outcome, r.override, r.review_state, r.lawful_basis])).toEqual([['permit', 'break-glass', 'pending', 'art6-1-d']]);
    expect(rows[0]!.content).toContain('Unconscious in A&E');

    before = await head();
    const res = await fetch(`${s.baseUrl}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&client_id=nobody-here&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=x.y.z',
    });
    expect(res.status).toBe(400 <= res.status && res.status < 500 ? res.status : -1);
    rows = await since(before);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ outcome: 'deny', patient_id: null });
    expect(auditEventOf(rows[0]!.content).type?.code).toBe('110114');
    // Named by its request id, so it can be found beside the log line; still nothing personal.
    expect(auditEventOf(rows[0]!.content).entity).toEqual([{ type: expect.objectContaining({ code: 'XrequestId' }), what: { identifier: { value: res.headers.get('x-request-id') } } }]);
  });

  it('a refusal by the token (its scopes, or not a council pushing) is audited as a deny, under the request id', async () => {
    const narrow = await s.issueToken({ clientId: 'client-X99001', organisation: { ods: 'X99001', name: 'Org X99001', kind: 'gp-practice' }, scopes: parseScopes('system/Patient.r') });
    let before = await head();
    const read = await s.request('GET', 'CarePlan/au-cp', undefined, { authorization: `Bearer ${narrow}`, 'x-request-id': 'scope-refusal-1' });
    expect(read.status).toBe(403);
    let rows = await since(before);
    expect(rows.map((r) => [r.outcome, r.subtype, r.org_ods, r.patient_id])).toEqual([['deny', 'read', 'X99001', null]]);
    expect(JSON.parse(rows[0]!.content).request).toBe('scope-refusal-1');
    expect(auditEventOf(rows[0]!.content).outcomeDesc).toBe('Refused: the access token does not allow this request.');
    // Nothing was read, so nothing is named.
    expect((auditEventOf(rows[0]!.content).entity ?? []).filter((e) => e.what?.reference)).toEqual([]);

    before = await head();
    const pushed = await fetch(`${s.baseUrl}/council/v1/records`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gp}`, 'content-type': 'application/json', 'x-request-id': 'not-a-council-1' },
      body: '{}',
    });
    expect(pushed.status).toBe(403);
    rows = await since(before);
    expect(rows.map((r) => [r.outcome, r.org_ods])).toEqual([['deny', 'X99001']]);
    expect(JSON.parse(rows[0]!.content).request).toBe('not-a-council-1');
  });

  it('an audit that cannot be committed fails the exchange: 500, and nothing disclosed or stored', async () => {
    await s.db.query('ALTER TABLE audit_event RENAME TO audit_event_away');
    try {
      const read = await s.request('GET', 'CarePlan/au-cp', undefined, { authorization: `Bearer ${gp}` });
      expect(read.status).toBe(500);
      expect(read.text).not.toContain('au-cp');
      expect(read.body.resourceType).toBe('OperationOutcome');
      const cp = (await s.db.query<{ content: string }>("SELECT content FROM resource WHERE resource_type = 'CarePlan' AND id = 'au-cp'")).rows[0]!;
      const put = await s.request('PUT', 'CarePlan/au-cp', { ...JSON.parse(cp.content), meta: undefined, description: 'not audited' }, { authorization: `Bearer ${council}` });
      expect(put.status).toBe(500);
    } finally {
      await s.db.query('ALTER TABLE audit_event_away RENAME TO audit_event');
    }
    const after = await s.request('GET', 'CarePlan/au-cp', undefined, { authorization: `Bearer ${council}` });
    expect(after.body.description).not.toBe('not audited');
  });

  it('the records form an unbroken chain', async () => {
    const result = await verifyAuditChain(s.db);
    expect(result.ok, JSON.stringify(result.firstBroken)).toBe(true);
    expect(result.checked).toBeGreaterThan(5);
  });
});
