import type { CareTeam, Consent, EpisodeOfCare, Extension, Flag, Patient, Reference, ServiceRequest } from '@medplum/fhirtypes';
import type { SqlClient } from '../../db/sql-client.ts';
import type { BreakGlassWindow, PersonFacts } from '../types.ts';
import { consentFact } from './consent-facts.ts';

/**
 * Loads what the rules need to know about people, from the store: one query
 * for the fact-bearing resources of all the people asked about, one for the
 * organisations holding records about them, one for opt-outs and one for
 * break-glass windows. The resource labels (patient_id, controller) written
 * with every version make these index lookups, not scans.
 */
const FACT_TYPES = ['Patient', 'Consent', 'CareTeam', 'ServiceRequest', 'EpisodeOfCare', 'CarePlan', 'Flag'];
const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';
const NHS_NUMBER = 'https://fhir.nhs.uk/Id/nhs-number';
const CLIENT_TYPE = 'https://joinedup.org.uk/fhir/StructureDefinition/social-care-client-type';
const ENQUIRY_KIND = 'https://joinedup.org.uk/fhir/CodeSystem/safeguarding-enquiry-kind';

interface Row {
  resource_type: string;
  patient_id: string;
  content: string;
  controller: string | null;
}

export async function loadPersonFacts(sql: SqlClient, patientIds: readonly string[]): Promise<Map<string, PersonFacts>> {
  const ids = [...new Set(patientIds)];
  const out = new Map<string, PersonFacts>();
  if (!ids.length) return out;
  for (const id of ids) out.set(id, emptyFacts(id));
  const rows = await sql.query<Row>(
    `SELECT resource_type, patient_id, content, controller FROM resource
      WHERE patient_id = ANY($1::text[]) AND NOT deleted AND resource_type = ANY($2::text[])`,
    [ids, FACT_TYPES]
  );
  const nhsNumbers = new Map<string, string>();
  for (const row of rows.rows) {
    const facts = out.get(row.patient_id);
    if (facts) apply(facts, row, nhsNumbers);
  }
  const holders = await sql.query<{ patient_id: string; controller: string }>(
    `SELECT DISTINCT patient_id, controller FROM resource WHERE patient_id = ANY($1::text[]) AND controller IS NOT NULL`,
    [ids]
  );
  for (const h of holders.rows) out.get(h.patient_id)?.recordHolders.push(h.controller);
  if (nhsNumbers.size) {
    const optOut = await sql.query<{ nhs_number: string }>(`SELECT nhs_number FROM data_opt_out WHERE nhs_number = ANY($1::text[]) AND opted_out`, [
      [...nhsNumbers.keys()],
    ]);
    for (const o of optOut.rows) {
      const f = out.get(nhsNumbers.get(o.nhs_number) as string);
      if (f) f.nationalDataOptOut = true;
    }
  }
  const windows = await sql.query<{ patient_id: string; client_id: string; user_id: string; justification_hash: string; opened_at: Date | string }>(
    `SELECT patient_id, client_id, user_id, justification_hash, opened_at FROM break_glass_window WHERE patient_id = ANY($1::text[])`,
    [ids]
  );
  for (const w of windows.rows) {
    const win: BreakGlassWindow = { clientId: w.client_id, userId: w.user_id, justificationHash: w.justification_hash, openedAt: new Date(w.opened_at).toISOString() };
    out.get(w.patient_id)?.breakGlass.push(win);
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

function apply(facts: PersonFacts, row: Row, nhsNumbers: Map<string, string>): void {
  const r = JSON.parse(row.content) as { resourceType: string };
  switch (r.resourceType) {
    case 'Patient': {
      const p = r as Patient;
      if (p.birthDate) facts.birthDate = p.birthDate;
      facts.isCarer = isCarer(p.extension);
      facts.registeredGp.push(...(p.generalPractitioner ?? []).flatMap(odsOf));
      const nhs = p.identifier?.find((i) => i.system === NHS_NUMBER)?.value;
      if (nhs) nhsNumbers.set(nhs, facts.patientId);
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
