/**
 * Shared by the HTTP benchmarks that compare a gateway with a baseline of
 * itself (bench/gate-run.ts: gated vs ungated; bench/audit-run.ts: audited
 * vs unaudited): the clients and the sharing agreement, tokens from each
 * gateway's own token endpoint, and the synthetic caseload pushed through
 * POST /council/v1/import.
 *
 * Data: `patients` people pushed as council records by a council client
 * (ODS X9C01, so the council controls every resource): per person a person
 * record (registered with GP practice X99001), a care plan, a care team, a
 * service, a contact, 5 consents of varied scope (given to the GP, refused to
 * the trust, given to another practice, research refusal, a later renewal for
 * the GP), 8 reviews and 2 assessments (10 Tasks). The sharing agreement is
 * docs/examples/agreements/midshire-direct-care.json. The reader is a GP
 * client (X99001, gp-practice, purpose TREAT).
 */
import { readFileSync } from 'node:fs';
import { ClientRegistry } from '../src/auth/client-registry.ts';
import { generateClientKeyPair } from '../src/auth/key-generation.ts';
import { buildClientAssertion, signingKeyFromJwk } from '../src/cli/client-assertion-builder.ts';
import type { AssertionContext, SigningKey } from '../src/cli/client-assertion-builder.ts';
import { openPostgres } from '../src/db/postgres.ts';
import { makeTestNhsNumber } from '../src/fhir/validation/nhs-number.ts';
import { addAgreement } from '../src/gate/agreements/agreement-store.ts';
import type { Service } from './processes.ts';
import { adminQuery } from './schema.ts';
import { COUNCIL_ODS, ELIGIBILITY, carePlanBody, day, personDetails, reablementService } from './synthetic-council.ts';

export { COUNCIL_ODS };
export const GP_ODS = 'X99001';
export const STRANGER_ODS = 'X99977';
export const REVIEWS = 8;
export const ASSESSMENTS = 2;
export const FHIR_JSON = { accept: 'application/fhir+json' };
const AGREEMENT_FILE = 'docs/examples/agreements/midshire-direct-care.json';

export interface Keys {
  council: SigningKey;
  gp: SigningKey;
  stranger: SigningKey;
}

/** Registers the council, the GP and a GP outside every agreement (as `joinedup client register` would) and adds the agreement. */
export async function registerClientsAndAgreement(url: string): Promise<Keys> {
  const db = await openPostgres(url, 1);
  try {
    const registry = new ClientRegistry(db);
    const register = async (clientId: string, ods: string, name: string, kind: 'local-authority' | 'gp-practice', scopes: string[], purposes: ('TREAT' | 'CAREMGT')[]): Promise<SigningKey> => {
      const pair = await generateClientKeyPair('ES384');
      await registry.register({ clientId, organisation: { ods, name, kind }, jwks: pair.publicJwks, scopes, purposes });
      return signingKeyFromJwk(pair.privateJwk);
    };
    const council = await register('bench-council', COUNCIL_ODS, 'Midshire County Council (synthetic)', 'local-authority', ['system/council.write'], ['CAREMGT']);
    const gp = await register('bench-gp', GP_ODS, 'Riverside Surgery (synthetic)', 'gp-practice', ['system/*.rs'], ['TREAT']);
    const stranger = await register('bench-stranger', STRANGER_ODS, 'Faraway Surgery (synthetic, no agreement)', 'gp-practice', ['system/*.rs'], ['TREAT']);
    await addAgreement(db, JSON.parse(readFileSync(AGREEMENT_FILE, 'utf8')));
    return { council, gp, stranger };
  } finally {
    await db.close();
  }
}

export async function tokenContext(server: Service, clientId: string, ods: string, purpose: 'TREAT' | 'CAREMGT'): Promise<AssertionContext> {
  const doc = (await (await fetch(`${server.url}/.well-known/smart-configuration`)).json()) as { token_endpoint?: string };
  if (!doc.token_endpoint) throw new Error(`${server.name} advertises no token_endpoint`);
  return { clientId, tokenUrl: doc.token_endpoint, ods, user: { id: `${clientId}-user-1`, role: purpose === 'CAREMGT' ? 'R1330' : 'R8000' }, purpose, lifetimeSeconds: 280 };
}

/**
 * A token from the endpoint `context.tokenUrl` names (tokenContext: `server`'s
 * own, since each gateway names itself as issuer and audience).
 */
export async function getToken(signer: SigningKey, context: AssertionContext, server?: Service): Promise<string> {
  const res = await fetch(context.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: buildClientAssertion(signer, context),
    }).toString(),
  });
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || !body.access_token) throw new Error(`token request${server ? ` to ${server.name}` : ''} failed: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

const GP_CLASSES = ['person', 'contacts', 'assessments', 'services', 'reviews', 'care-plan', 'care-team'];

/** One person's council records (shapes as docs/examples/council/*.json), dates and sizes varied by `p`. */
export function personRecords(p: number): Record<string, unknown>[] {
  const nhsNumber = makeTestNhsNumber(p);
  const person = { localId: `GATE-${String(p).padStart(7, '0')}`, nhsNumber };
  const v = p % 97;
  const start = day('2025-01-06', p % 300);
  const worker = { name: `Sam Testworker${v}`, localId: `STAFF-${v}`, sdsJobRole: 'R8000', organisationOds: COUNCIL_ODS };
  // lastUpdated after the event it records (a Task's lastModified may not precede its authoredOn).
  const source = (prefix: string, k = 0, on = day(start, 3)) => ({ system: 'mosaic-bench', recordId: `${prefix}-${p}-${k}`, lastUpdated: `${day(on, 1)}T${String(8 + (p % 10)).padStart(2, '0')}:${String(p % 60).padStart(2, '0')}:00Z` });
  const rec = (recordType: string, body: Record<string, unknown>) => ({ formatVersion: '1', recordType, person, ...body });
  const capacity = (on: string) => ({ hasCapacity: true, assessedOn: on, assessor: { name: worker.name, sdsJobRole: 'R8000', organisationOds: COUNCIL_ODS } });
  const consent = (k: number, status: string, organisations: string[] | 'any', purposes: string[], dataClasses: string[]) => {
    const date = day(start, 10 * k);
    return rec('consent', { source: source('CNS', k, date), status, decidedBy: 'person', scope: { organisations, purposes, dataClasses }, capacity: capacity(date), date, reviewDate: day(date, 365), recordedBy: { name: worker.name, localId: worker.localId, organisationOds: COUNCIL_ODS } });
  };
  const needs = 2 + (p % 3);
  return [
    rec('person', {
      source: source('PER'),
      ...personDetails(p, GP_ODS),
    }),
    rec('care-plan', { source: source('CSP'), ...carePlanBody(p, start, worker, needs) }),
    rec('care-team', {
      source: source('CT'),
      name: `Team for person ${p}`,
      status: 'active',
      period: { start },
      members: [
        { ...worker, organisationName: 'Midshire County Council (synthetic)', jobTitle: 'Social worker', role: 'primary-contact', period: { start } },
        { name: `Dr Testdoc${v}`, organisationOds: GP_ODS, organisationName: 'Riverside Surgery (synthetic)', jobTitle: 'GP', role: 'chair', period: { start } },
        { name: `Jo Testnurse${v}`, organisationOds: 'X9H01', jobTitle: 'Community nurse', role: 'member', period: { start } },
      ],
    }),
    rec('service', {
      source: source('SRV'),
      ...reablementService(p, start),
    }),
    rec('contact', {
      source: source('CON'),
      date: day(start, -5),
      routeOfAccess: 'DH',
      reason: 'HD',
      requester: { type: 'SH', organisation: { ods: 'X9H01', name: 'Northgate Hospitals NHS Trust (synthetic)' }, practitioner: { name: 'Priya Testward', organisationOds: 'X9H01' } },
      description: `Discharge to assess referral for person ${p}.`,
      status: 'completed',
      outcome: 'PRO-R',
      outcomeDate: day(start, -4),
    }),
    // Five consents, oldest first; the most recent applicable one decides.
    consent(0, 'given', [GP_ODS, 'X9H01'], ['TREAT', 'CAREMGT'], GP_CLASSES),
    consent(1, 'refused', ['X9H01'], ['HOPERAT'], ['assessments']),
    consent(2, 'given', ['X99002'], ['TREAT'], ['person', 'care-plan']),
    consent(3, 'refused', 'any', ['HRESCH'], ['person', 'assessments', 'services', 'care-plan']),
    consent(4, 'given', [GP_ODS], ['TREAT', 'CAREMGT'], GP_CLASSES),
    ...Array.from({ length: ASSESSMENTS }, (_, k) =>
      rec('assessment', {
        source: source('ASM', k, day(start, -1 + k * 60)),
        assessmentType: 'CN',
        method: 'F2F',
        status: 'completed',
        startDate: day(start, -3 + k * 60),
        endDate: day(start, -1 + k * 60),
        assessor: worker,
        outcome: 'PRO-SUP',
        eligibility: {
          outcomes: ELIGIBILITY.slice(0, 4).map((o, j) => ({ outcome: o, unableToAchieve: (p + j) % 2 === 0, ...((p + j) % 2 === 0 ? { note: `Needs support with ${o}.` } : {}) })),
          significantImpactOnWellbeing: true,
          eligible: true,
        },
        answers: [
          { questionId: 'Q-MOB-01', question: 'Can you walk indoors without help?', answer: 'With a frame, short distances' },
          { questionId: 'Q-FALL-02', question: 'Falls in the last 12 months', answer: p % 4 },
        ],
      })
    ),
    ...Array.from({ length: REVIEWS }, (_, k) =>
      rec('review', {
        source: source('REV', k, day(start, 20 + k * 30)),
        reviewType: k === 0 ? 'planned' : k % 3 ? 'planned' : 'unplanned',
        method: k % 2 ? 'TEL' : 'F2F',
        date: day(start, 20 + k * 30),
        reviewer: worker,
        outcome: 'NCP',
        nextReviewDate: day(start, 50 + k * 30),
      })
    ),
  ];
}

/** Pushes `patients` people in one NDJSON import as the council; returns the Patient ids (shuffled deterministically). */
export async function loadCaseload(gateway: Service, council: SigningKey, schemaUrl: string, patients: number): Promise<{ patientIds: string[]; seconds: number; byType: string }> {
  const started = performance.now();
  const lines = Array.from({ length: patients }, (_, p) => personRecords(p))
    .flat()
    .map((r) => JSON.stringify(r))
    .join('\n');
  const token = await getToken(council, await tokenContext(gateway, 'bench-council', COUNCIL_ODS, 'CAREMGT'), gateway);
  const res = await fetch(`${gateway.url}/council/v1/import`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson', accept: 'application/x-ndjson' },
    body: `${lines}\n`,
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`import answered HTTP ${res.status}: ${text.slice(0, 2000)}`);
  const out = text.split('\n').filter(Boolean);
  const summaryLine = out.find((l) => l.startsWith('{"summary"'));
  const summary = summaryLine ? (JSON.parse(summaryLine) as { summary: Record<string, number> }).summary : undefined;
  const rejected = out.filter((l) => l.startsWith('{"error"') || l.includes('"status":"rejected"'));
  if (!summary || rejected.length || (summary.rejected ?? 0) > 0) {
    throw new Error(`import rejected records (${JSON.stringify(summary)}):\n${rejected.slice(0, 5).map((l) => l.slice(0, 800)).join('\n')}`);
  }
  const seconds = (performance.now() - started) / 1000;
  const byType = await adminQuery<{ resource_type: string; n: string }>(schemaUrl, 'SELECT resource_type, count(*) AS n FROM resource WHERE NOT deleted GROUP BY 1 ORDER BY 2 DESC');
  const rows = await adminQuery<{ id: string }>(schemaUrl, "SELECT id FROM resource WHERE resource_type = 'Patient' AND NOT deleted ORDER BY id");
  if (rows.length !== patients) throw new Error(`expected ${patients} Patients, found ${rows.length}`);
  const unlabelled = await adminQuery<{ n: string }>(schemaUrl, "SELECT count(*) AS n FROM resource WHERE resource_type IN ('Patient','CarePlan','Task') AND (controller IS DISTINCT FROM $1 OR patient_id IS NULL)", [COUNCIL_ODS]);
  if (Number(unlabelled[0]!.n) > 0) throw new Error(`${unlabelled[0]!.n} Patient/CarePlan/Task rows lack the council as controller or a patient label`);
  // Shuffled deterministically, so consecutive requests are not for neighbouring rows.
  const ids = rows.map((r) => r.id).sort((a, b) => hash(a) - hash(b));
  return { patientIds: ids, seconds, byType: byType.map((r) => `${r.resource_type} ${r.n}`).join(', ') };
}
function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
