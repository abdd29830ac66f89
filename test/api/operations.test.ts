import { beforeAll, describe, expect, test } from 'vitest';
import { PgRepository } from '../../src/fhir/repo/pg-repository.ts';
import { createValidator } from '../../src/fhir/validation/validator.ts';
import { backends } from '../support/backends.ts';
import { testCarePlan, testPatient } from '../support/fixtures.ts';
import { suiteServer } from '../support/test-server.ts';

const SUPPORTED = [
  'Patient',
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'RelatedPerson',
  'CarePlan',
  'Goal',
  'CareTeam',
  'Consent',
  'ServiceRequest',
  'Task',
  'Questionnaire',
  'QuestionnaireResponse',
  'EpisodeOfCare',
  'Condition',
  'Flag',
  'Provenance',
  'AuditEvent',
  'Subscription',
];

/** A value of the right shape for a search parameter of this type; what matters is that the server understands it. */
function plausibleValue(type: string, param: string, targets: string[]): string {
  switch (type) {
    case 'token':
      return param === '_id' ? 'some-id' : 'http://example.org/codes|abc';
    case 'uri':
      return 'http://example.org/fhir/thing';
    case 'string':
      return 'Tes';
    case 'reference':
      return `${targets[0] ?? 'Patient'}/some-id`;
    case 'date':
      return 'ge2020-01-01';
    default:
      throw new Error(`The CapabilityStatement lists ${param} with type ${type}, which this test does not know`);
  }
}

describe.each(backends())('metadata and the everything and validate operations ($name)', (backend) => {
  const s = suiteServer(backend);

  const storedRows = async (): Promise<number> =>
    Number((await s.db.query<{ n: number }>('SELECT (SELECT count(*) FROM resource) + (SELECT count(*) FROM resource_version) AS n')).rows[0]?.n);
  const create = async <T extends { resourceType: string }>(resource: T): Promise<any> => {
    const res = await s.request('POST', resource.resourceType, resource);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  };

  describe('GET metadata', () => {
    test('is a CapabilityStatement for exactly the 19 supported types, with batch and transaction', async () => {
      const res = await s.request('GET', 'metadata');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('application/fhir+json');
      const cs = res.body;
      expect(cs.resourceType).toBe('CapabilityStatement');
      expect(cs.fhirVersion).toBe('4.0.1');
      expect(cs.kind).toBe('instance');
      expect(cs.format).toContain('application/fhir+json');
      const rest = cs.rest[0];
      expect(rest.mode).toBe('server');
      expect(rest.security.description).toMatch(/SMART Backend Services/);
      expect(rest.resource.map((r: any) => r.type).sort()).toEqual([...SUPPORTED].sort());
      expect(rest.interaction.map((i: any) => i.code).sort()).toEqual(['batch', 'transaction']);
      for (const r of rest.resource) {
        // AuditEvents are recorded by the gateway only: clients read them, never write them.
        const writes = r.type === 'AuditEvent' ? [] : ['create', 'delete', 'patch', 'update'];
        expect(r.interaction.map((i: any) => i.code).sort()).toEqual([...writes, 'history-instance', 'history-type', 'read', 'search-type', 'vread'].sort());
        expect(r.conditionalUpdate).toBe(false);
        expect(r.conditionalDelete).toBe('not-supported');
        expect(r.operation.map((o: any) => o.name)).toEqual(r.type === 'Patient' ? ['validate', 'everything'] : ['validate']);
      }
    });

    test('every listed search parameter, include and revinclude is understood (strict handling)', async () => {
      const cs = (await s.request('GET', 'metadata')).body;
      const strict = { prefer: 'handling=strict' };
      const failures: string[] = [];
      let tried = 0;
      for (const r of cs.rest[0].resource) {
        tried += r.searchParam.length;
        for (const p of r.searchParam) {
          const value = plausibleValue(p.type, p.name, referenceTargets(cs, r.type, p.name));
          const url = `${r.type}?${encodeURIComponent(p.name)}=${encodeURIComponent(value)}`;
          const res = await s.request('GET', url, undefined, strict);
          if (res.status !== 200) failures.push(`${url} -> ${res.status} ${res.body?.issue?.[0]?.details?.text ?? ''}`);
        }
        for (const inc of r.searchInclude) {
          const res = await s.request('GET', `${r.type}?_include=${encodeURIComponent(inc)}`, undefined, strict);
          if (res.status !== 200) failures.push(`${r.type}?_include=${inc} -> ${res.status}`);
        }
        for (const rev of r.searchRevInclude) {
          const res = await s.request('GET', `${r.type}?_revinclude=${encodeURIComponent(rev)}`, undefined, strict);
          if (res.status !== 200) failures.push(`${r.type}?_revinclude=${rev} -> ${res.status}`);
        }
      }
      expect(failures).toEqual([]);
      expect(tried).toBeGreaterThan(SUPPORTED.length * 3);
    });

    test('every interaction listed for a type works (Goal, end to end)', async () => {
      const patient = await create(testPatient(1));
      const goal = { resourceType: 'Goal', lifecycleStatus: 'active', description: { text: 'Walk daily' }, subject: { reference: `Patient/${patient.id}` } };
      const created = await create(goal);
      expect((await s.request('GET', `Goal/${created.id}`)).status).toBe(200);
      const updated = await s.request('PUT', `Goal/${created.id}`, { ...created, lifecycleStatus: 'on-hold' });
      expect(updated.body.meta.versionId).toBe('2');
      const patched = await s.request('PATCH', `Goal/${created.id}`, [{ op: 'replace', path: '/lifecycleStatus', value: 'active' }], {
        'content-type': 'application/json-patch+json',
      });
      expect(patched.status).toBe(200);
      expect(patched.body.meta.versionId).toBe('3');
      expect((await s.request('GET', `Goal/${created.id}/_history/2`)).body.lifecycleStatus).toBe('on-hold');
      expect((await s.request('GET', `Goal/${created.id}/_history`)).body.total).toBe(3);
      expect((await s.request('GET', 'Goal/_history')).body.type).toBe('history');
      expect((await s.request('GET', `Goal?subject=Patient/${patient.id}`)).body.entry).toHaveLength(1);
      expect((await s.request('DELETE', `Goal/${created.id}`)).status).toBe(200);
      expect((await s.request('GET', `Goal/${created.id}`)).status).toBe(410);
    });
  });

  describe('Patient/{id}/$everything', () => {
    let patient: any;
    let other: any;
    let members: any[];
    let referenced: any[];
    let audit: any;

    beforeAll(async () => {
      const org = await create({ resourceType: 'Organization', name: 'Test Council', identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'X99002' }] });
      const otherOrg = await create({ resourceType: 'Organization', name: 'Unrelated Council' });
      const worker = await create({ resourceType: 'Practitioner', name: [{ family: 'Worker', given: ['Sam'] }] });
      // Referenced only from CarePlan.author, which no search parameter indexes.
      const author = await create({ resourceType: 'Practitioner', name: [{ family: 'Author', given: ['Jo'] }] });
      patient = await create(testPatient(20, { managingOrganization: { reference: `Organization/${org.id}` } }));
      other = await create(testPatient(21, { managingOrganization: { reference: `Organization/${otherOrg.id}` } }));
      const P = { reference: `Patient/${patient.id}` };
      members = [
        await create(testCarePlan(patient.id, { author: { reference: `Practitioner/${author.id}` } })),
        await create(testCarePlan(patient.id)),
        await create({
          resourceType: 'Consent',
          status: 'active',
          scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
          category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
          patient: P,
          policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
        }),
        await create({ resourceType: 'CareTeam', status: 'active', subject: P, participant: [{ member: { reference: `Practitioner/${worker.id}` } }] }),
        await create({ resourceType: 'Flag', status: 'active', code: { text: 'Lives alone' }, subject: P }),
        await create({ resourceType: 'Goal', lifecycleStatus: 'active', description: { text: 'Walk daily' }, subject: P }),
        await create({ resourceType: 'EpisodeOfCare', status: 'active', patient: P }),
        await create({ resourceType: 'Condition', subject: P, code: { text: 'Frailty' } }),
        await create({ resourceType: 'RelatedPerson', patient: P, name: [{ family: 'Relative' }] }),
        await create({ resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject: P }),
        await create({ resourceType: 'Task', status: 'requested', intent: 'order', for: P }),
        await create({ resourceType: 'QuestionnaireResponse', status: 'completed', subject: P }),
      ];
      referenced = [org, worker, author];
      // Clients cannot write AuditEvents (405); one stored by the gateway itself in the resource table
      // (as a database from before the audit store might hold) must still never appear.
      audit = await writeDirect({
        resourceType: 'AuditEvent',
        type: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110110' },
        recorded: '2025-01-01T00:00:00Z',
        agent: [{ requestor: true, who: P }],
        source: { observer: { display: 'JoinedUp' } },
        entity: [{ what: P }],
      });
      await create(testCarePlan(other.id));
    });

    const everything = (query = '') => s.request('GET', `Patient/${patient.id}/$everything${query}`);
    async function writeDirect(resource: any): Promise<any> {
      const repo = new PgRepository({ db: s.db, validator: createValidator(), baseUrl: `${s.baseUrl}/fhir`, onDbError: () => undefined }, { requestId: 'test', authMode: 'smart' });
      return repo.createResource(resource);
    }
    const keyOf = (r: any): string => `${r.resourceType}/${r.id}`;

    test('holds the patient, the compartment and what it refers to, and nothing else', async () => {
      const res = await everything();
      expect(res.status).toBe(200);
      expect(res.body.resourceType).toBe('Bundle');
      expect(res.body.type).toBe('searchset');
      const got = res.body.entry.map((e: any) => keyOf(e.resource));
      const expected = [patient, ...members, ...referenced].map(keyOf);
      expect([...got].sort()).toEqual([...expected].sort());
      expect(got[0]).toBe(keyOf(patient));
      expect(res.body.total).toBe(expected.length);
      expect(got).not.toContain(keyOf(audit));
      expect(got).not.toContain(keyOf(other));
    });

    test('never includes AuditEvent, even when asked for by _type', async () => {
      const res = await everything('?_type=AuditEvent');
      expect(res.status).toBe(200);
      expect(res.body.entry ?? []).toEqual([]);
    });

    test('_type restricts the resource types', async () => {
      const res = await everything('?_type=CarePlan,Consent');
      const types = res.body.entry.map((e: any) => e.resource.resourceType);
      expect(new Set(types)).toEqual(new Set(['CarePlan', 'Consent']));
      expect(types).toHaveLength(3);
    });

    test('_since returns exactly what changed at or after the instant', async () => {
      const carePlan = members[1];
      const updated = (await s.request('PUT', `CarePlan/${carePlan.id}`, { ...carePlan, description: 'Reviewed' })).body;
      const since = updated.meta.lastUpdated as string;
      const all = (await everything('?_count=1000')).body.entry.map((e: any) => e.resource);
      const res = await everything(`?_since=${encodeURIComponent(since)}`);
      expect(res.status).toBe(200);
      const got = res.body.entry.map((e: any) => keyOf(e.resource));
      expect(got).toContain(keyOf(updated));
      expect([...got].sort()).toEqual(all.filter((r: any) => r.meta.lastUpdated >= since).map(keyOf).sort());
    });

    test('_count pages through everything with next links, no repeats, no gaps', async () => {
      const all = (await everything()).body.entry.map((e: any) => keyOf(e.resource));
      const seen: string[] = [];
      let url: string | undefined = `Patient/${patient.id}/$everything?_count=4`;
      let pages = 0;
      while (url) {
        const page = await s.request('GET', url);
        expect(page.status).toBe(200);
        expect(page.body.entry.length).toBeLessThanOrEqual(4);
        seen.push(...page.body.entry.map((e: any) => keyOf(e.resource)));
        url = page.body.link.find((l: any) => l.relation === 'next')?.url;
        pages++;
        expect(pages).toBeLessThan(20);
      }
      expect(pages).toBe(Math.ceil(all.length / 4));
      expect(seen).toEqual(all);
    });

    test('bad parameters are 400; an unknown patient is 404 and a deleted one 410', async () => {
      for (const q of ['?_since=yesterday', '?_type=Observation', '?_count=lots']) {
        const res = await everything(q);
        expect(res.status).toBe(400);
        expect(res.body.resourceType).toBe('OperationOutcome');
      }
      expect((await s.request('GET', 'Patient/no-such-patient/$everything')).status).toBe(404);
      const gone = await create(testPatient(22));
      await s.request('DELETE', `Patient/${gone.id}`);
      expect((await s.request('GET', `Patient/${gone.id}/$everything`)).status).toBe(410);
    });
  });

  describe('POST [type]/$validate', () => {
    test('lists every problem of a bad Patient, with expressions, as a 200 OperationOutcome, and stores nothing', async () => {
      const before = await storedRows();
      const bad = testPatient(30, { gender: 'sometimes' as 'other', identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9990000019' }] });
      const res = await s.request('POST', 'Patient/$validate', { ...bad, favouriteColour: 'blue' });
      expect(res.status).toBe(200);
      expect(res.body.resourceType).toBe('OperationOutcome');
      const errors = res.body.issue.filter((i: any) => i.severity === 'error');
      expect(errors.map((i: any) => i.expression[0]).sort()).toEqual(['Patient.favouriteColour', 'Patient.gender', 'Patient.identifier[0].value'].sort());
      expect(await storedRows()).toBe(before);
    });

    test('answers an informational issue for a good resource, also wrapped in Parameters, and stores nothing', async () => {
      const before = await storedRows();
      for (const body of [testPatient(31), { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: testPatient(31) }] }]) {
        const res = await s.request('POST', 'Patient/$validate', body);
        expect(res.status).toBe(200);
        expect(res.body.issue).toEqual([expect.objectContaining({ severity: 'information' })]);
      }
      const cp = await s.request('POST', 'CarePlan/$validate', { ...testCarePlan('x'), subject: undefined });
      expect(cp.body.issue.map((i: any) => i.expression?.[0])).toContain('CarePlan.subject');
      expect(await storedRows()).toBe(before);
    });

    test('a body that is not a resource of the type is 400; GET is 405', async () => {
      expect((await s.request('POST', 'Patient/$validate', testCarePlan('x'))).status).toBe(400);
      expect((await s.request('POST', 'Patient/$validate', 'null')).status).toBe(400);
      expect((await s.request('POST', 'Patient/$validate', { resourceType: 'Parameters', parameter: [] })).status).toBe(400);
      expect((await s.request('GET', 'Patient/$validate')).status).toBe(405);
    });
  });
});

/** The types a reference parameter may point to: those listing it among their revincludes. */
function referenceTargets(cs: any, type: string, param: string): string[] {
  return cs.rest[0].resource.filter((r: any) => r.searchRevInclude.includes(`${type}:${param}`)).map((r: any) => r.type);
}
