import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { parseScopes } from '../../src/auth/scopes.ts';
import { makeTestNhsNumber } from '../../src/fhir/validation/nhs-number.ts';
import { backends } from '../support/backends.ts';
import { suiteServer } from '../support/test-server.ts';
import type { TestResponse } from '../support/test-server.ts';

// Synthetic people only: NHS numbers from the 999 test range, invented names and ids.
const EXAMPLES = join(import.meta.dirname, '../../docs/examples');
const example = (name: string): any => JSON.parse(readFileSync(join(EXAMPLES, name), 'utf8'));
const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';
const DATA_CLASS = 'https://joinedup.org.uk/fhir/CodeSystem/data-class';
const LAWFUL_BASIS = 'https://joinedup.org.uk/fhir/StructureDefinition/lawful-basis';
const COUNCIL = { ods: 'X9C01', name: 'Test Council', kind: 'local-authority' as const };
// The examples name X99001 as the person's registered GP practice; the direct-care agreement covers it and X9H01.
const GP = { ods: 'X99001', name: 'Test GP Practice', kind: 'gp-practice' as const };
const IG = { ods: 'X9G01', name: 'Test IG team', kind: 'information-governance' as const };

const ARTHUR = makeTestNhsNumber(81001);
const REFUSER = makeTestNhsNumber(81002);
const UNKNOWN = makeTestNhsNumber(81003);

function person(localId: string, nhsNumber: string, recordId: string): any {
  const base = example('council/person.json');
  return { ...base, source: { ...base.source, recordId }, person: { localId, nhsNumber }, name: { ...base.name, family: `Cdsperson${recordId}` } };
}

function consultBody(nhsNumber: string, extra: Record<string, unknown> = {}): any {
  return {
    hook: 'patient-consent-consult',
    hookInstance: 'b0b1c1a4-7d1e-4c7e-9a7e-0d5d7f0f0001',
    context: { patientId: [{ system: NHS, value: nhsNumber }], scope: 'patient-privacy', purposeOfUse: ['TREAT'], ...extra },
  };
}

describe.each(backends())('CDS Hooks patient-consent-consult ($name)', (backend) => {
  const s = suiteServer(backend);
  let gpToken = '';
  let igToken = '';

  /** `token` '' sends no Authorization header. */
  async function consult(body: unknown, token: string = gpToken): Promise<TestResponse> {
    return s.request('POST', `${s.baseUrl}/cds-services/patient-consent-consult`, body, {
      'content-type': 'application/json',
      accept: 'application/json',
      authorization: token ? `Bearer ${token}` : '',
    });
  }

  beforeAll(async () => {
    await s.addAgreement(example('agreements/midshire-direct-care.json'));
    const councilToken = await s.issueToken({ organisation: COUNCIL, scopes: parseScopes('system/council.write system/*.rs') });
    const refusal = example('council/consent-refused.json');
    const records = [
      person('LOC-CDS1', ARTHUR, 'PER-CDS1'),
      person('LOC-CDS2', REFUSER, 'PER-CDS2'),
      { ...refusal, source: { ...refusal.source, recordId: 'CNS-CDS2' }, person: { localId: 'LOC-CDS2', nhsNumber: REFUSER } },
    ];
    const pushed = await s.request('POST', `${s.baseUrl}/council/v1/records`, records, {
      'content-type': 'application/json',
      accept: 'application/json',
      authorization: `Bearer ${councilToken}`,
    });
    expect(pushed.status).toBe(200);
    expect(pushed.body.summary.rejected).toBe(0);
    gpToken = await s.issueToken({ organisation: GP, purposeOfUse: 'TREAT', scopes: parseScopes('system/*.rs') });
    igToken = await s.issueToken({ organisation: IG, purposeOfUse: 'HOPERAT', scopes: parseScopes('system/*.rs system/ig.read') });
  });

  test('discovery lists patient-consent-consult, without a token', async () => {
    const res = await s.request('GET', `${s.baseUrl}/cds-services`, undefined, { authorization: '', accept: 'application/json' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(res.body.services).toEqual([
      expect.objectContaining({ hook: 'patient-consent-consult', id: 'patient-consent-consult', title: expect.any(String), description: expect.any(String), prefetch: {} }),
    ]);
  });

  test('the registered GP under the direct-care agreement gets CONSENT_PERMIT on implied consent, Art 6(1)(e) and Art 9(2)(h)', async () => {
    const seq = async () => Number((await s.db.query<{ n: string | null }>('SELECT max(seq) AS n FROM audit_event')).rows[0]?.n ?? 0);
    const before = await seq();
    const res = await consult(consultBody(ARTHUR, { actor: [{ system: ODS, value: GP.ods }], class: [{ system: DATA_CLASS, code: 'assessments' }] }));
    expect(res.status).toBe(200);
    const [card] = res.body.cards;
    expect(card).toMatchObject({ summary: 'CONSENT_PERMIT', indicator: 'info', source: { label: 'JoinedUp lawful-basis gate' } });
    expect(card.extension).toMatchObject({ decision: 'CONSENT_PERMIT', obligations: [], basedOn: 'midshire-direct-care' });
    const basis = card.extension[LAWFUL_BASIS];
    expect(basis).toMatchObject({ art6: 'art6-1-e', art9: 'art9-2-h', dpaSchedule1: 'dpa-sch1-pt1-para2', commonLaw: 'implied-consent', statutoryGateway: 'hsca-2012-s251b' });
    expect(basis.rules[0].code).toBe('R3-implied-consent-direct-care');
    expect(card.detail).toMatch(/^Permitted/);
    // No personal data in the card.
    expect(JSON.stringify(card)).not.toContain(ARTHUR);
    expect(JSON.stringify(card)).not.toContain('Cdsperson');
    // The consult is an exchange: one audit record, committed before the answer, without the NHS number.
    const rows = (await s.db.query<{ subtype: string; org_ods: string; content: string }>('SELECT subtype, org_ods, content FROM audit_event WHERE seq > $1', [before])).rows;
    expect(rows.map((r) => [r.subtype, r.org_ods])).toEqual([['operation', GP.ods]]);
    expect(rows[0]!.content).not.toContain(ARTHUR);
  });

  test('asking for every class: permit with the classes outside the agreement withheld (LEAP REDACT obligation)', async () => {
    const res = await consult(consultBody(ARTHUR));
    const [card] = res.body.cards;
    expect(card.summary).toBe('CONSENT_PERMIT');
    expect(card.indicator).toBe('warning');
    const redact = card.extension.obligations.find((o: any) => o.id.code === 'REDACT');
    expect(redact.id.system).toBe('http://terminology.hl7.org/CodeSystem/v3-ActCode');
    expect(redact.parameters.codes).toEqual(
      expect.arrayContaining([
        { system: DATA_CLASS, code: 'carer-data' },
        { system: DATA_CLASS, code: 'consents' },
      ])
    );
    expect(redact.parameters.codes).not.toContainEqual({ system: DATA_CLASS, code: 'assessments' });
    expect(card.detail).toContain('Withheld:');
  });

  test('a person whose pushed consent refuses sharing: CONSENT_DENY citing R4', async () => {
    const res = await consult(consultBody(REFUSER, { class: [{ system: DATA_CLASS, code: 'assessments' }, { system: DATA_CLASS, code: 'care-plan' }] }));
    expect(res.status).toBe(200);
    const [card] = res.body.cards;
    expect(card).toMatchObject({ summary: 'CONSENT_DENY', indicator: 'critical', extension: { decision: 'CONSENT_DENY', obligations: [] } });
    expect(card.extension[LAWFUL_BASIS].rules[0].code).toBe('R4-objection');
    expect(card.extension.basedOn).toBeUndefined();
    expect(card.detail).toMatch(/^Denied/);
    expect(JSON.stringify(card)).not.toContain(REFUSER);
  });

  test('an unknown NHS number: NO_CONSENT', async () => {
    const res = await consult(consultBody(UNKNOWN));
    expect(res.status).toBe(200);
    expect(res.body.cards[0]).toMatchObject({ summary: 'NO_CONSENT', indicator: 'warning', extension: { decision: 'NO_CONSENT', obligations: [] } });
    expect(res.body.cards[0].detail).not.toContain(UNKNOWN);
  });

  test('a client asking about another organisation as actor, or another purpose, is refused 403', async () => {
    const other = await consult(consultBody(ARTHUR, { actor: [{ system: ODS, value: 'X9H01' }] }));
    expect(other.status).toBe(403);
    expect(other.body.resourceType).toBe('OperationOutcome');
    expect(other.body.issue[0].expression).toEqual(['$.context.actor']);
    const purpose = await consult(consultBody(ARTHUR, { purposeOfUse: ['HRESCH'] }));
    expect(purpose.status).toBe(403);
  });

  test('information governance may ask "what if" for any organisation', async () => {
    const gp = await consult(consultBody(ARTHUR, { actor: [{ system: ODS, value: GP.ods }], class: [{ system: DATA_CLASS, code: 'care-plan' }] }), igToken);
    expect(gp.status).toBe(200);
    expect(gp.body.cards[0].summary).toBe('CONSENT_PERMIT');
    expect(gp.body.cards[0].extension[LAWFUL_BASIS]).toMatchObject({ art6: 'art6-1-e', art9: 'art9-2-h' });
    // The trust is party to the agreement but has no relationship with the person.
    const trust = await consult(consultBody(ARTHUR, { actor: [{ system: ODS, value: 'X9H01' }], class: [{ system: DATA_CLASS, code: 'care-plan' }] }), igToken);
    expect(trust.body.cards[0].summary).toBe('CONSENT_DENY');
    expect(trust.body.cards[0].extension[LAWFUL_BASIS].rules[0].code).toBe('R2-relationship');
  });

  test('a malformed request: 400 OperationOutcome naming the JSON path', async () => {
    const res = await consult({ hook: 'patient-consent-consult', hookInstance: 'x', context: { patientId: [{ system: NHS }], class: [{ system: DATA_CLASS, code: 'nope' }] } });
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    const paths = res.body.issue.flatMap((i: any) => i.expression);
    expect(paths).toEqual(expect.arrayContaining(['$.context.patientId[0].value', '$.context.class[0].code']));
    const actor = await consult(consultBody(ARTHUR, { actor: [{ system: 'urn:other', value: 'X' }] }));
    expect(actor.status).toBe(400);
    expect(actor.body.issue[0].expression).toEqual(['$.context.actor']);
  });

  test('no token: 401; a token without Consent read: 403', async () => {
    const none = await consult(consultBody(ARTHUR), '');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    const narrow = await s.issueToken({ organisation: GP, scopes: parseScopes('system/Patient.rs') });
    expect((await consult(consultBody(ARTHUR), narrow)).status).toBe(403);
  });

  test('other methods: 405', async () => {
    const res = await s.request('GET', `${s.baseUrl}/cds-services/patient-consent-consult`, undefined, { authorization: '' });
    expect(res.status).toBe(405);
  });
});
