import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CarePlan, CareTeam, Consent, Goal, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { PURPOSE_CODES } from '../../src/auth/purposes.ts';
import { JOINT_WORK_ROLES } from '../../src/council/format/care-team.ts';
import * as codeLists from '../../src/council/format/code-lists.ts';
import { DECIDED_BY } from '../../src/council/format/consent.ts';
import { parseCouncilRecord } from '../../src/council/format/index.ts';
import { MappingError } from '../../src/mapping/errors.ts';
import { mapRecord } from '../../src/mapping/map-record.ts';
import { getMappingRegistry } from '../../src/mapping/mapping-registry.ts';

/**
 * Care plans, care teams and consent (mappings/council-v1/{care-plan,care-team,consent}.json).
 * The golden files hold the full outputs; these tests pin the encodings other
 * parts of JoinedUp rely on (the gate reads Consent) and cover the variants the
 * golden cases do not.
 */
const EXAMPLES = fileURLToPath(new URL('../../docs/examples/council/', import.meta.url));
const GOLDEN = fileURLToPath(new URL('./golden/', import.meta.url));
const ctx = { councilOds: 'X9C01', receivedAt: '2026-11-20T10:00:00Z' };

function example(file: string): Record<string, any> {
  return JSON.parse(readFileSync(join(EXAMPLES, file), 'utf8')) as Record<string, any>;
}
function golden(name: string): Record<string, any> {
  return (JSON.parse(readFileSync(join(GOLDEN, `${name}.input.json`), 'utf8')) as { record: Record<string, any> }).record;
}
function map<T extends Resource>(record: Record<string, any>, type: T['resourceType']): T[] {
  const parsed = parseCouncilRecord(record);
  expect(parsed.ok ? [] : parsed.issues).toEqual([]);
  return mapRecord(record, record.recordType as string, ctx).resources.filter((r): r is T => r.resourceType === type);
}
function consentOf(record: Record<string, any>): Consent {
  const [consent] = map<Consent>(record, 'Consent');
  return consent!;
}
const ext = (r: { extension?: { url: string }[] }, name: string) => r.extension?.filter((e) => e.url === `https://joinedup.org.uk/fhir/StructureDefinition/${name}`) ?? [];

describe('the council format examples map to valid FHIR', () => {
  for (const file of ['care-plan.json', 'care-team.json', 'consent.json', 'consent-deputy.json', 'consent-refused.json']) {
    it(file, () => {
      const record = example(file);
      expect(parseCouncilRecord(record).ok).toBe(true);
      const result = mapRecord(record, record.recordType as string, ctx);
      expect(result.resources.length).toBeGreaterThan(0);
      expect(result.provenance.policy?.[0]).toMatch(new RegExp(`/council-v1-${record.recordType as string}\\|`));
    });
  }

  it('the golden inputs of these record types are valid council records', () => {
    for (const name of ['older-man-care-plan', 'older-man-care-team', 'woman-learning-disability-consent-by-deputy', 'person-refuses-consent']) {
      const parsed = parseCouncilRecord(golden(name));
      expect(parsed.ok ? [] : parsed.issues, name).toEqual([]);
    }
  });
});

describe('care plan', () => {
  it('makes one Goal per goal, referenced from the plan and from the activities that serve it', () => {
    const record = example('care-plan.json');
    const [plan] = map<CarePlan>(record, 'CarePlan');
    const goals = map<Goal>(record, 'Goal');
    expect(goals).toHaveLength(3);
    expect(plan!.goal?.map((g) => g.reference)).toEqual(goals.map((g) => `Goal/${g.id}`));
    expect(plan!.activity?.[3]?.detail?.goal?.map((g) => g.reference)).toEqual([`Goal/${goals[0]!.id}`, `Goal/${goals[1]!.id}`]);
    expect(plan!.category?.[0]?.coding?.[0]).toMatchObject({ system: 'http://snomed.info/sct', code: '734163000' });
    expect(plan!.subject.reference).toBe(plan!.activity?.[3]?.detail?.performer?.[0]?.reference);
  });

  it('keeps goal ids stable per plan and distinct between plans', () => {
    const a = map<Goal>(example('care-plan.json'), 'Goal');
    const other = { ...example('care-plan.json'), source: { ...example('care-plan.json').source, recordId: 'CSP-9999' } };
    const b = map<Goal>(other, 'Goal');
    expect(map<Goal>(example('care-plan.json'), 'Goal').map((g) => g.id)).toEqual(a.map((g) => g.id));
    expect(new Set([...a, ...b].map((g) => g.id)).size).toBe(6);
  });

  it('maps achieved / not-achieved goals to completed with an achievement status', () => {
    const record = example('care-plan.json');
    record.goals[0].status = 'achieved';
    record.goals[1].status = 'not-achieved';
    const goals = map<Goal>(record, 'Goal');
    expect(goals.map((g) => [g.lifecycleStatus, g.achievementStatus?.coding?.[0]?.code])).toEqual([
      ['completed', 'achieved'],
      ['completed', 'not-achieved'],
      ['proposed', undefined],
    ]);
  });

  it('carries the personal budget and needs as extensions, and drops them when absent', () => {
    const record = example('care-plan.json');
    const [plan] = map<CarePlan>(record, 'CarePlan');
    expect(ext(plan!, 'personal-budget')).toHaveLength(1);
    expect(ext(plan!, 'care-need')).toHaveLength(3);
    delete record.personalBudget;
    record.needs = [];
    record.goals.forEach((g: Record<string, unknown>) => delete g.needIds);
    const [bare] = map<CarePlan>(record, 'CarePlan');
    expect(bare!.extension?.map((e) => e.url)).toEqual(['https://joinedup.org.uk/fhir/StructureDefinition/review-date']);
  });
});

describe('care team', () => {
  it('gives each member their joint-work role, their job, their organisation by ODS code and their period', () => {
    const [team] = map<CareTeam>(example('care-team.json'), 'CareTeam');
    expect(team!.participant?.map((p) => p.role?.[0]?.coding?.[0]?.code)).toEqual(['primary-contact', 'chair', 'assessor-recorder', 'minute-taker', 'member']);
    expect(team!.participant?.[0]?.role?.[1]).toEqual({
      coding: [{ system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-SDSJobRoleName', code: 'R8000' }],
      text: 'Social worker',
    });
    expect(team!.participant?.[1]?.onBehalfOf?.identifier).toEqual({ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'X99001' });
    expect(team!.participant?.[4]?.period).toEqual({ start: '2026-10-14', end: '2026-10-31' });
  });
});

describe('consent (what the gate relies on)', () => {
  it('given: active, permit, per organisation (IRCP), purpose and data class; the person decided', () => {
    const c = consentOf(example('consent.json'));
    expect(c.status).toBe('active');
    expect(c.scope.coding?.[0]).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' });
    expect(ext(c, 'consent-decision')).toEqual([{ url: 'https://joinedup.org.uk/fhir/StructureDefinition/consent-decision', valueCode: 'given' }]);
    expect(c.provision?.type).toBe('permit');
    expect(c.provision?.actor?.map((a) => [a.role.coding?.[0]?.code, a.reference.identifier?.value])).toEqual([
      ['IRCP', 'X99001'],
      ['IRCP', 'X9H01'],
    ]);
    expect(c.provision?.purpose).toEqual([
      { system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'TREAT', display: 'treatment' },
      { system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'CAREMGT', display: 'Care Management' },
    ]);
    expect(c.provision?.class?.map((k) => `${k.system}|${k.code}`)).toContain('https://joinedup.org.uk/fhir/CodeSystem/data-class|care-plan');
    expect(c.performer).toEqual([{ reference: c.patient?.reference }]);
    expect(c.policyRule?.coding?.[0]).toMatchObject({ system: 'https://joinedup.org.uk/fhir/CodeSystem/consent-authority', code: 'person' });
  });

  it('refused: still active (a refusal is in force), deny; "any" organisation gives no actor', () => {
    const c = consentOf(example('consent-refused.json'));
    expect([c.status, c.provision?.type, c.provision?.actor]).toEqual(['active', 'deny', undefined]);
    expect(ext(c, 'consent-decision')[0]).toMatchObject({ valueCode: 'refused' });
  });

  it('withdrawn: active, deny, decision withdrawn', () => {
    const c = consentOf({ ...example('consent.json'), status: 'withdrawn' });
    expect([c.status, c.provision?.type]).toEqual(['active', 'deny']);
    expect(ext(c, 'consent-decision')[0]).toMatchObject({ valueCode: 'withdrawn' });
  });

  it('a deputy: performer the RelatedPerson by council person id, authority deputy with the order, capacity lacking', () => {
    const c = consentOf(example('consent-deputy.json'));
    expect(c.performer).toEqual([
      {
        type: 'RelatedPerson',
        identifier: { system: 'https://joinedup.org.uk/fhir/Id/council-person-id/X9C01', value: 'MID-200518' },
        display: 'Ruth Testdeputy (sister; deputy for personal welfare appointed by the Court of Protection)',
      },
    ]);
    expect(c.policyRule?.coding?.[0]?.code).toBe('deputy');
    expect(ext(c, 'legal-authority')[0]).toMatchObject({ extension: [{ url: 'kind', valueCode: 'deputyship' }, { url: 'reference', valueString: 'COP-13999999' }] });
    expect(ext(c, 'mental-capacity')[0]).toMatchObject({ extension: [{ url: 'hasCapacity', valueBoolean: false }, { url: 'assessedOn', valueDate: '2026-09-10' }, {}] });
  });

  it('an LPA attorney and a best-interests decision', () => {
    const deputy = example('consent-deputy.json');
    const lpa = consentOf({ ...deputy, decidedBy: 'lpa-health-welfare', decisionMaker: { ...deputy.decisionMaker, authorityRef: 'LPA-7000-1234-5678' } });
    expect(lpa.policyRule?.coding?.[0]?.code).toBe('lpa-health-welfare');
    expect(ext(lpa, 'legal-authority')[0]).toMatchObject({ extension: [{ url: 'kind', valueCode: 'lpa' }, {}] });
    const bi = consentOf({ ...deputy, decidedBy: 'best-interests', decisionMaker: { name: 'Kim Testpractitioner', relationship: 'social worker' } });
    expect(bi.policyRule?.coding?.[0]?.code).toBe('best-interests');
    expect(bi.performer).toEqual([{ display: 'Kim Testpractitioner (social worker)' }]);
    expect(ext(bi, 'legal-authority')).toEqual([]);
  });

  it('safeguarding purposes use the JoinedUp purpose-of-use system', () => {
    const c = consentOf({ ...example('consent.json'), scope: { ...example('consent.json').scope, purposes: ['safeguarding-adults'] } });
    expect(c.provision?.purpose).toEqual([
      { system: 'https://joinedup.org.uk/fhir/CodeSystem/purpose-of-use', code: 'safeguarding-adults', display: 'safeguarding adults (Care Act 2014 s42)' },
    ]);
  });

  it('an unknown purpose is refused naming the ConceptMap, at its input path', () => {
    const record = { ...example('consent.json'), scope: { ...example('consent.json').scope, purposes: ['TREAT', 'MARKETING'] } };
    try {
      mapRecord(record, 'consent', ctx);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(MappingError);
      expect((err as MappingError).kind).toBe('code');
      expect((err as MappingError).issues[0]?.details?.text ?? (err as MappingError).issues[0]?.diagnostics).toMatch(/MARKETING.*council-v1-consent-purpose/);
    }
  });
});

describe('every code these record types use is translated', () => {
  const maps = getMappingRegistry().conceptMaps;
  const url = (id: string) => `https://joinedup.org.uk/fhir/ConceptMap/${id}`;
  const cases: [string, readonly string[]][] = [
    ['council-v1-care-plan-service-component', Object.keys(codeLists.SERVICE_COMPONENT.codes)],
    ['council-v1-care-plan-delivery-mechanism', Object.keys(codeLists.DELIVERY_MECHANISM.codes)],
    ['council-v1-care-plan-eligibility-outcome', Object.keys(codeLists.ELIGIBILITY_OUTCOME.codes)],
    ['council-v1-care-team-role', JOINT_WORK_ROLES],
    ['council-v1-consent-data-class', Object.keys(codeLists.DATA_CLASS.codes)],
    ['council-v1-consent-purpose', PURPOSE_CODES],
    ['council-v1-consent-authority', DECIDED_BY],
  ];
  for (const [id, codes] of cases) {
    it(id, () => {
      for (const code of codes) {
        expect(maps.translate(url(id), code), `${id} ${code}`).toBeDefined();
      }
    });
  }
});
