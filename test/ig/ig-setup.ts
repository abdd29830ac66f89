import { readFileSync } from 'node:fs';
import { parseScopes } from '../../src/auth/scopes.ts';
import type { OrganisationKind } from '../../src/auth/organisation.ts';
import { makeTestNhsNumber } from '../../src/fhir/validation/nhs-number.ts';
import type { TestResponse, TestServer } from '../support/test-server.ts';
import { item, patient, registerClients, tokenFor, writeAs } from '../gate/http-scenario-setup.ts';

/**
 * Audit events for the IG API tests, made through the real FHIR API: a GP
 * reads P's care plan, a stranger is refused P, a second GP breaks the glass
 * on P (with HTML in the justification), and the GP reads Q, another person
 * who must never show in P's report.
 */
const DIRECT_CARE = JSON.parse(readFileSync(new URL('../../docs/examples/agreements/midshire-direct-care.json', import.meta.url), 'utf8'));

export const P = 'ig-p1';
export const Q = 'ig-q2';
export const P_NHS = makeTestNhsNumber(5151);
export const Q_NHS = makeTestNhsNumber(5252);
export const JUSTIFICATION = 'Collapsed <script>alert("x")</script> & no history';

export async function makeEvents(s: TestServer): Promise<void> {
  await registerClients(s);
  await s.addAgreement(DIRECT_CARE);
  await writeAs(s, 'X9C01', patient(P, P_NHS, { birthDate: '1950-01-01', gp: 'X99001' }), item('care-plan', 'ig-cp1', P));
  await writeAs(s, 'X9C01', patient(Q, Q_NHS, { birthDate: '1951-01-01', gp: 'X99001' }), item('care-plan', 'ig-cp2', Q));
  const gp = await tokenFor(s, { ods: 'X99001', purpose: 'TREAT', userId: 'gp-user' });
  const stranger = await tokenFor(s, { ods: 'X99002', purpose: 'TREAT', userId: 'stranger-user' });
  const btg = await tokenFor(s, { ods: 'X99002', purpose: 'BTG', userId: 'ae-user', justification: JUSTIFICATION });
  const expect = async (r: Promise<TestResponse>, status: number) => {
    const res = await r;
    if (res.status !== status) throw new Error(`setup: expected ${status}, got ${res.status}: ${res.text}`);
  };
  await expect(s.request('GET', 'CarePlan/ig-cp1', undefined, { authorization: `Bearer ${gp}` }), 200);
  await expect(s.request('GET', `Patient/${P}`, undefined, { authorization: `Bearer ${stranger}` }), 404);
  await expect(s.request('GET', `Patient/${P}`, undefined, { authorization: `Bearer ${btg}` }), 200);
  await expect(s.request('GET', 'CarePlan/ig-cp2', undefined, { authorization: `Bearer ${gp}` }), 200);
}

export function igToken(s: TestServer, o: { kind?: OrganisationKind; ods?: string; scopes?: string } = {}): Promise<string> {
  const ods = o.ods ?? 'X9G01';
  return s.issueToken({
    clientId: `client-${ods}`,
    organisation: { ods, name: 'Midshire IG', kind: o.kind ?? 'information-governance' },
    user: { id: 'ig-lead', role: 'R8000' },
    purposeOfUse: 'HOPERAT',
    scopes: parseScopes(o.scopes ?? 'system/ig.read system/AuditEvent.rs'),
  });
}

/** A request to the IG API (not under /fhir) as `token`. */
export function ig(s: TestServer, token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<TestResponse> {
  return s.request(method, `${s.baseUrl}/ig/v1${path}`, body, { authorization: token ? `Bearer ${token}` : '', ...headers });
}
