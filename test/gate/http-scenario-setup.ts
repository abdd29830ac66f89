import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import { ClientExistsError } from '../../src/auth/client-registry.ts';
import { PURPOSES, PURPOSE_CODES } from '../../src/auth/purposes.ts';
import { parseScopes } from '../../src/auth/scopes.ts';
import { PgRepository } from '../../src/fhir/repo/pg-repository.ts';
import { createValidator } from '../../src/fhir/validation/validator.ts';
import type { DataClass } from '../../src/gate/types.ts';
import type { TestServer } from '../support/test-server.ts';
import { TEST_ACTOR } from '../support/test-server.ts';
import { ADULT_BIRTH_DATE, CHILD_BIRTH_DATE, sha256 } from './scenario-kit.ts';
import { ORG_KINDS, ORGS, SCENARIO_AGREEMENTS, type AgreementId, type ConsentSpec, type ProvisionSpec, type Scenario } from './scenarios.ts';

/**
 * Turns the scenario table's plain data into stored FHIR (written ungated, as
 * the controlling organisation) so that the facts loader derives the facts
 * factsFromScenario gives the engine in-process; and the tokens, clients and
 * agreements an HTTP replay needs. Shared by http-scenarios and http-leaks.
 */
export const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';
export const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const JU = 'https://joinedup.org.uk/fhir';
const validator = createValidator();

const org = (ods: string) => ({ type: 'Organization', identifier: { system: ODS, value: ods } });
const subject = (pid: string) => ({ reference: `Patient/${pid}` });

/** Registers a client per scenario organisation ("client-{ods}", as queryFromScenario names them). */
export async function registerClients(s: TestServer): Promise<void> {
  for (const ods of Object.values(ORGS)) {
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
    await s.clients
      .register({
        clientId: `client-${ods}`,
        organisation: { ods, name: `Org ${ods}`, kind: ORG_KINDS[ods] ?? 'nhs-trust' },
        jwks: { keys: [{ ...jwk, kid: randomUUID(), alg: 'ES384', use: 'sig' }] },
        scopes: ['system/*.cruds'],
        purposes: [...PURPOSE_CODES],
      })
      .catch((err: unknown) => {
        if (!(err instanceof ClientExistsError)) throw err;
      });
  }
}

export function tokenFor(s: TestServer, r: Scenario['requester']): Promise<string> {
  return s.issueToken({
    clientId: `client-${r.ods}`,
    organisation: { ods: r.ods, name: `Org ${r.ods}`, kind: ORG_KINDS[r.ods] ?? 'nhs-trust' },
    user: { id: r.userId ?? 'user-1', role: 'R8000' },
    purposeOfUse: r.purpose,
    ...(r.justification !== undefined ? { justification: r.justification } : {}),
    scopes: parseScopes('system/*.cruds'),
  });
}

/** Replaces every stored agreement with these (the file form: no version; an early end is set as `agreement end` would). */
export async function resetAgreements(s: TestServer, ids: readonly AgreementId[]): Promise<void> {
  await s.db.query('DELETE FROM sharing_agreement');
  for (const id of ids) {
    const { version: _v, ...file } = SCENARIO_AGREEMENTS[id] as Record<string, unknown> & { version: number; endedAt?: string };
    const { endedAt, ...rest } = file;
    await s.addAgreement(rest);
    if (endedAt) await s.db.query('UPDATE sharing_agreement SET ended_at = $2 WHERE id = $1', [id, endedAt]);
  }
  s.gate.invalidatePolicy();
}

/** Writes resources ungated as organisation `ods` (it becomes their controller). */
export async function writeAs(s: TestServer, ods: string, ...resources: Resource[]): Promise<void> {
  const repo = new PgRepository(
    { db: s.db, validator, baseUrl: `${s.baseUrl}/fhir`, onDbError: () => {} },
    { requestId: randomUUID(), authMode: 'smart', actor: { ...TEST_ACTOR, organisation: { ods, name: `Org ${ods}`, kind: ORG_KINDS[ods] ?? 'nhs-trust' }, tokenId: 'setup' } }
  );
  for (const r of resources) await repo.updateResource(r as Resource & { id: string });
}

export function patient(id: string, nhs: string, o: { birthDate: string; gp?: string; isCarer?: boolean }): Resource {
  return {
    resourceType: 'Patient',
    id,
    identifier: [{ system: NHS, value: nhs }],
    birthDate: o.birthDate,
    ...(o.gp ? { generalPractitioner: [org(o.gp)] } : {}),
    ...(o.isCarer
      ? { extension: [{ url: `${JU}/StructureDefinition/social-care-client-type`, valueCodeableConcept: { coding: [{ system: `${JU}/CodeSystem/cld-client-type`, code: 'carer' }] } }] }
      : {}),
  } as Resource;
}

function provision(p: ProvisionSpec, period?: { start?: string; end?: string }): Record<string, unknown> {
  const actors = (p.actors ?? []).map((ods) => ({ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] }, reference: org(ods) }));
  const purposes = (p.purposes ?? []).map((code) => ({ system: PURPOSES[code].system, code }));
  const classes = (p.classes ?? []).map((code) => ({ system: `${JU}/CodeSystem/data-class`, code }));
  const per = p.period ?? period;
  return { type: p.type, ...(per ? { period: per } : {}), ...(actors.length ? { actor: actors } : {}), ...(purposes.length ? { purpose: purposes } : {}), ...(classes.length ? { class: classes } : {}) };
}

/** A patient-privacy Consent as consent-facts.ts reads it: root provision first, the rest nested in it. */
export function consent(id: string, pid: string, c: ConsentSpec, status = 'active'): Resource {
  const [root, ...nested] = c.provisions;
  const ext: Record<string, unknown>[] = [{ url: `${JU}/StructureDefinition/consent-decision`, valueCode: c.decision }];
  if (c.capacity) {
    ext.push({
      url: `${JU}/StructureDefinition/mental-capacity`,
      extension: [{ url: 'hasCapacity', valueBoolean: c.capacity.hasCapacity }, ...(c.capacity.assessedOn ? [{ url: 'assessedOn', valueDate: c.capacity.assessedOn }] : [])],
    });
  }
  const rootProv = root ? provision(root, c.period) : { type: 'permit', ...(c.period ? { period: c.period } : {}) };
  if (nested.length) rootProv.provision = nested.map((p) => provision(p));
  return {
    resourceType: 'Consent',
    id,
    extension: ext,
    status,
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: subject(pid),
    dateTime: c.dateTime,
    policyRule: { coding: [{ system: `${JU}/CodeSystem/consent-authority`, code: c.authority ?? 'person' }] },
    provision: rootProv,
  } as unknown as Resource;
}

/** One resource of a data class, in a status that adds no fact about the person. */
export function item(dataClass: DataClass, id: string, pid: string, carerNhs?: string): Resource {
  const base = { id };
  switch (dataClass) {
    case 'contacts':
      return { ...base, resourceType: 'ServiceRequest', status: 'completed', intent: 'plan', subject: subject(pid) } as Resource;
    case 'assessments':
    case 'carer-data':
      return { ...base, resourceType: 'Task', status: 'completed', intent: 'plan', for: subject(pid) } as Resource;
    case 'reviews':
      return { ...base, resourceType: 'Task', status: 'completed', intent: 'plan', code: { coding: [{ system: `${JU}/CodeSystem/cld-event-type`, code: 'review' }] }, for: subject(pid) } as Resource;
    case 'services':
      return { ...base, resourceType: 'EpisodeOfCare', status: 'finished', patient: subject(pid) } as Resource;
    case 'care-plan':
      return { ...base, resourceType: 'CarePlan', status: 'completed', intent: 'plan', subject: subject(pid) } as Resource;
    case 'care-team':
      return { ...base, resourceType: 'CareTeam', status: 'inactive', subject: subject(pid) } as Resource;
    case 'safeguarding':
      return { ...base, resourceType: 'Flag', status: 'inactive', code: { coding: [{ system: `${JU}/CodeSystem/safeguarding-enquiry-kind`, code: 'adult-s42' }] }, subject: subject(pid) } as Resource;
    case 'consents':
      return consent(id, pid, { id, decision: 'given', dateTime: '2026-01-01T09:00:00Z', provisions: [{ type: 'permit' }] }, 'draft');
    case 'related-people':
      return {
        ...base,
        resourceType: 'RelatedPerson',
        patient: subject(pid),
        ...(carerNhs
          ? { identifier: [{ system: NHS, value: carerNhs }], relationship: [{ coding: [{ system: `${JU}/CodeSystem/related-person-relationship`, code: 'main-unpaid-carer' }] }] }
          : { relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'FRND' }] }] }),
      } as Resource;
    case 'person':
      return { ...base, resourceType: 'Condition', subject: subject(pid) } as Resource;
  }
}

export interface BuiltScenario {
  patientId: string;
  nhs: string;
  /** The data item asked about (stored unless the ask is a create). */
  item: Resource & { id: string };
  stored: boolean;
}

/** Stores the scenario's person (and carer, opt-out, break-glass rows) and the data item; ids are unique per `n`. */
export async function buildScenario(s: TestServer, sc: Scenario, n: number, nhsOf: (k: number) => string): Promise<BuiltScenario> {
  const p = sc.person;
  const pid = `sc${n}-p`;
  const C = ORGS.council;
  const nhs = nhsOf(2 * n);
  // Class carer-data has no resource shape of its own: it is a carer's own record (a Task of a person who is a carer).
  const isCarer = p.isCarer ?? sc.ask.dataClass === 'carer-data';
  const person = patient(pid, nhs, { birthDate: p.birthDate ?? (p.age === 'adult' ? ADULT_BIRTH_DATE : CHILD_BIRTH_DATE), gp: p.gp, isCarer });
  const facts: Resource[] = [person];
  if (p.careTeam?.length) {
    facts.push({ resourceType: 'CareTeam', id: `${pid}-team`, status: 'active', subject: subject(pid), participant: p.careTeam.map((ods) => ({ member: org(ods) })) } as Resource);
  }
  (p.referrals ?? []).forEach((ods, i) =>
    facts.push({ resourceType: 'ServiceRequest', id: `${pid}-ref${i}`, status: 'active', intent: 'order', subject: subject(pid), performer: [org(ods)] } as Resource)
  );
  (p.consents ?? []).forEach((c) => facts.push(consent(`${pid}-${c.id}`, pid, c)));
  if (p.safeguarding) {
    const code = p.safeguarding === 's42' ? 'adult-s42' : 'child-s47';
    facts.push({ resourceType: 'Flag', id: `${pid}-sg`, status: 'active', code: { coding: [{ system: `${JU}/CodeSystem/safeguarding-enquiry-kind`, code }] }, subject: subject(pid) } as Resource);
  }
  await writeAs(s, C, ...facts);
  // Services arranged: an active EpisodeOfCare controlled by each arranging organisation.
  for (const [i, ods] of (p.servicesArrangedBy ?? [C]).entries()) {
    await writeAs(s, ods, { resourceType: 'EpisodeOfCare', id: `${pid}-eoc${i}`, status: 'active', patient: subject(pid) } as Resource);
  }
  if (p.optOut) await s.db.query('INSERT INTO data_opt_out (nhs_number, opted_out) VALUES ($1, true)', [nhs]);
  for (const w of p.breakGlass ?? []) {
    await s.db.query('INSERT INTO break_glass_window (client_id, user_id, patient_id, justification_hash, opened_at) VALUES ($1, $2, $3, $4, $5)', [
      w.clientId ?? `client-${sc.requester.ods}`,
      w.userId,
      pid,
      sha256(w.justification),
      w.openedAt,
    ]);
  }
  let carerNhs: string | undefined;
  const third = sc.ask.thirdPartyCarer;
  if (third !== undefined) {
    carerNhs = nhsOf(2 * n + 1);
    if (third !== null) {
      const cid = `sc${n}-carer`;
      await writeAs(s, C, patient(cid, carerNhs, { birthDate: ADULT_BIRTH_DATE, isCarer: true }), ...third.consents.map((c) => consent(`${cid}-${c.id}`, cid, c)));
    }
  }
  const controller = sc.ask.controller === undefined ? C : sc.ask.controller;
  let it: Resource & { id: string };
  if (sc.ask.dataClass === 'person' && controller === C) it = person as Resource & { id: string };
  else it = item(sc.ask.dataClass, `sc${n}-item`, pid, carerNhs) as Resource & { id: string };
  if (controller !== null && it !== person) await writeAs(s, controller, it);
  return { patientId: pid, nhs, item: it, stored: controller !== null };
}
