import type { CareTeam, Consent, EpisodeOfCare, Extension, Flag, Patient, Reference, Resource, ServiceRequest } from '@medplum/fhirtypes';
import type { SqlClient } from '../../db/sql-client.ts';
import type { BreakGlassWindow, PersonFacts } from '../types.ts';
import { consentFact } from './consent-facts.ts';

/**
 * Loads what the rules need to know about people, from the store, in one
 * query for all the people asked about. The resource labels (patient_id, controller) written
 * with every version make these index lookups, not scans.
 */
const FACT_TYPES = ['Patient', 'Consent', 'CareTeam', 'ServiceRequest', 'EpisodeOfCare', 'CarePlan', 'Flag'];
const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';
const NHS_NUMBER = 'https://fhir.nhs.uk/Id/nhs-number';
const CLIENT_TYPE = 'https://joinedup.org.uk/fhir/StructureDefinition/social-care-client-type';
const ENQUIRY_KIND = 'https://joinedup.org.uk/fhir/CodeSystem/safeguarding-enquiry-kind';

/** A tagged row: f = fact resource, h = record holder, o = opted out, b = break-glass window (columns reused). */
interface Row {
  kind: 'f' | 'h' | 'o' | 'b';
  resource_type: string | null;
  patient_id: string;
  controller: string | null;
  content: string | null;
  extra: string | null;
}

export async function loadPersonFacts(sql: SqlClient, patientIds: readonly string[]): Promise<Map<string, PersonFacts>> {
  const ids = [...new Set(patientIds)];
  const out = new Map<string, PersonFacts>();
  if (!ids.length) return out;
  for (const id of ids) out.set(id, emptyFacts(id));
  // One round trip: the fact-bearing resources, the organisations holding
  // records (deleted ones too: they held the record), the opt-out (through the
  // Patient's indexed NHS number) and the break-glass windows, as tagged rows.
  const rows = await sql.query<Row>(
    `SELECT 'f' AS kind, resource_type, patient_id, controller, content, NULL AS extra
       FROM resource WHERE patient_id = ANY($1::text[]) AND NOT deleted AND resource_type = ANY($2::text[])
     UNION ALL
     SELECT DISTINCT 'h', NULL, patient_id, controller, NULL, NULL
       FROM resource WHERE patient_id = ANY($1::text[]) AND controller IS NOT NULL
     UNION ALL
     SELECT 'o', NULL, t.id, NULL, NULL, NULL
       FROM sp_token t JOIN data_opt_out o ON o.nhs_number = t.value AND o.opted_out
      WHERE t.resource_type = 'Patient' AND t.id = ANY($1::text[]) AND t.code = 'identifier' AND t.system = $3
     UNION ALL
     SELECT 'b', client_id, patient_id, user_id, justification_hash, to_char(opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
       FROM break_glass_window WHERE patient_id = ANY($1::text[])`,
    [ids, FACT_TYPES, NHS_NUMBER]
  );
  for (const row of rows.rows) {
    const facts = out.get(row.patient_id);
    if (!facts) continue;
    if (row.kind === 'f') apply(facts, row);
    else if (row.kind === 'h' && row.controller) facts.recordHolders.push(row.controller);
    else if (row.kind === 'o') facts.nationalDataOptOut = true;
    else if (row.kind === 'b') {
      const win: BreakGlassWindow = { clientId: row.resource_type ?? '', userId: row.controller ?? '', justificationHash: row.content ?? '', openedAt: row.extra ?? '' };
      facts.breakGlass.push(win);
    }
  }
  return out;
}

export function emptyFacts(patientId: string): PersonFacts {
  return {
    patientId,
    isCarer: false,
    registeredGp: [],
    careTeamOrgs: [],
    referralOrgs: [],
    recordHolders: [],
    servicesArrangedBy: [],
    consents: [],
    openSafeguarding: [],
    nationalDataOptOut: false,
    breakGlass: [],
  };
}

/**
 * A person's facts after a resource about them was CREATED (no row of it
 * existed, live or deleted) by `controller`, worked out in memory from the
 * facts just before, exactly as loadPersonFacts would read them back: the
 * resource's own fact, if its type bears one, and its controller among the
 * record holders. A Patient's NHS number decides the national data opt-out,
 * which only the store can answer: `optedOut` is the set of that Patient's
 * NHS numbers found opted out (optedOutAmong, read before the write);
 * without it a Patient gives undefined.
 */
export function factsAfterCreate(before: PersonFacts, resource: Resource, controller: string | undefined, optedOut?: ReadonlySet<string>): PersonFacts | undefined {
  if (resource.resourceType === 'Patient' && !optedOut) return undefined;
  const facts = copyForApply(before);
  if (FACT_TYPES.includes(resource.resourceType)) applyResource(facts, resource, controller ?? null);
  if (resource.resourceType === 'Patient' && nhsNumbersOf(resource as Patient).some((n) => optedOut!.has(n))) facts.nationalDataOptOut = true;
  if (controller && !facts.recordHolders.includes(controller)) facts.recordHolders.push(controller);
  return facts;
}

/**
 * A copy `before` survives applyResource on: the lists it pushes to are new
 * arrays, the facts in them (consents, enquiries, windows) are shared, since
 * nothing changes a fact once made. Cheaper than structuredClone on every
 * version an import batch creates (docs/performance.md, council import).
 */
function copyForApply(before: PersonFacts): PersonFacts {
  // Every list, whatever PersonFacts gains later, so a new fact list cannot be shared by mistake.
  const copy: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(before)) copy[k] = Array.isArray(v) ? [...v] : v;
  return copy as unknown as PersonFacts;
}

/** The Patient's NHS numbers as loadPersonFacts matches them against the opt-out list (the indexed identifier values). */
export function nhsNumbersOf(patient: Patient): string[] {
  return (patient.identifier ?? []).flatMap((i) => (i.system === NHS_NUMBER && typeof i.value === 'string' ? [i.value] : []));
}

/** Which of these NHS numbers are opted out (one query; the check loadPersonFacts makes, for Patients not yet stored). */
export async function optedOutAmong(sql: SqlClient, nhsNumbers: readonly string[]): Promise<Set<string>> {
  if (!nhsNumbers.length) return new Set();
  const r = await sql.query<{ nhs_number: string }>('SELECT nhs_number FROM data_opt_out WHERE opted_out AND nhs_number = ANY($1::text[])', [[...new Set(nhsNumbers)]]);
  return new Set(r.rows.map((x) => x.nhs_number));
}

function apply(facts: PersonFacts, row: Row): void {
  applyResource(facts, JSON.parse(row.content ?? '{}') as Resource, row.controller);
}

function applyResource(facts: PersonFacts, r: Resource, controller: string | null): void {
  const row = { controller };
  switch (r.resourceType) {
    case 'Patient': {
      const p = r as Patient;
      if (p.birthDate) facts.birthDate = p.birthDate;
      facts.isCarer = isCarer(p.extension);
      facts.registeredGp.push(...(p.generalPractitioner ?? []).flatMap(odsOf));
      break;
    }
    case 'Consent': {
      const c = consentFact(r as Consent);
      if (c) facts.consents.push(c);
      break;
    }
    case 'CareTeam': {
      const t = r as CareTeam;
      if (t.status !== 'active') break;
      for (const p of t.participant ?? []) facts.careTeamOrgs.push(...odsOf(p.onBehalfOf), ...odsOf(p.member));
      break;
    }
    case 'ServiceRequest': {
      const s = r as ServiceRequest;
      if (s.status !== 'active') break;
      // The organisation that wrote the referral is a party to it even if it names itself only by reference.
      facts.referralOrgs.push(...odsOf(s.requester), ...(s.performer ?? []).flatMap(odsOf), ...(row.controller ? [row.controller] : []));
      break;
    }
    case 'EpisodeOfCare':
    case 'CarePlan': {
      const status = (r as EpisodeOfCare).status;
      if ((status === 'active' || status === 'waitlist' || status === 'onhold') && row.controller) facts.servicesArrangedBy.push(row.controller);
      break;
    }
    case 'Flag': {
      const f = r as Flag;
      if (f.status !== 'active') break;
      const kind = f.code.coding?.find((c) => c.system === ENQUIRY_KIND)?.code;
      if (kind === 'adult-s42' || kind === 'child-s47') facts.openSafeguarding.push({ ref: `Flag/${f.id}`, kind: kind === 'adult-s42' ? 's42' : 's47' });
      break;
    }
  }
}

function odsOf(ref: Reference | undefined): string[] {
  const v = ref?.identifier?.system === ODS ? ref.identifier.value : undefined;
  return v ? [v] : [];
}

function isCarer(ext: Extension[] | undefined): boolean {
  return (ext ?? []).some((e) => e.url === CLIENT_TYPE && e.valueCodeableConcept?.coding?.some((c) => c.code === 'carer'));
}
