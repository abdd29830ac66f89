import { parseSearchRequest } from '@medplum/core';
import type { Bundle, BundleEntry, CarePlan, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Database, SqlClient } from '../../src/db/sql-client.ts';
import { runSearch } from '../../src/fhir/repo/search.ts';
import { writeVersion } from '../../src/fhir/repo/write-version.ts';
import { loadBaseSchema } from '../../src/fhir/schema.ts';
import { makeTestNhsNumber } from '../../src/fhir/validation/nhs-number.ts';
import { backends } from '../support/backends.ts';
import { testCarePlan, testPatient } from '../support/fixtures.ts';
import { startTestServer } from '../support/test-server.ts';
import type { TestServer } from '../support/test-server.ts';

const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const SCT = 'http://snomed.info/sct';
const LOCAL = 'https://example.org/Id/test-local';
const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';

/** Entries of a searchset by mode. */
function entries(bundle: Bundle, mode: 'match' | 'include' | 'outcome'): BundleEntry[] {
  return (bundle.entry ?? []).filter((e) => e.search?.mode === mode);
}

function matchIds(bundle: Bundle): string[] {
  return entries(bundle, 'match').map((e) => e.resource?.id as string);
}

function includeKeys(bundle: Bundle): string[] {
  return entries(bundle, 'include')
    .map((e) => `${e.resource?.resourceType}/${e.resource?.id}`)
    .sort();
}

function sorted(ids: string[]): string[] {
  return [...ids].sort();
}

function link(bundle: Bundle, relation: string): string | undefined {
  return bundle.link?.find((l) => l.relation === relation)?.url;
}

/** Waits until the clock has moved on, so consecutive writes get distinct lastUpdated instants. */
async function nextMillisecond(after: string): Promise<void> {
  const t = Date.parse(after);
  while (Date.now() <= t) {
    await new Promise((r) => setTimeout(r, 1));
  }
}

describe.each(backends())('FHIR search ($name)', (backend) => {
  let db: Database;
  let s: TestServer;

  /** Ids by name of everything the suite creates up front. */
  const id: Record<string, string> = {};
  const nhs: Record<string, string> = {};
  const lastUpdated: Record<string, string> = {};

  async function create<T extends Resource>(name: string, resource: T): Promise<T> {
    const res = await s.request('POST', resource.resourceType, resource);
    if (res.status !== 201) {
      throw new Error(`creating ${name}: ${res.status} ${res.text}`);
    }
    id[name] = res.body.id;
    lastUpdated[name] = res.body.meta.lastUpdated;
    await nextMillisecond(res.body.meta.lastUpdated);
    return res.body as T;
  }

  async function search(query: string, headers?: Record<string, string>): Promise<Bundle> {
    const res = await s.request('GET', query, undefined, headers);
    if (res.status !== 200) {
      throw new Error(`GET ${query}: ${res.status} ${res.text}`);
    }
    expect(res.body.resourceType).toBe('Bundle');
    expect(res.body.type).toBe('searchset');
    return res.body as Bundle;
  }

  /** Ids (sorted) of the matches; names map back to the suite's resources. */
  async function found(query: string): Promise<string[]> {
    return sorted(matchIds(await search(query)));
  }

  function ids(...names: string[]): string[] {
    return sorted(names.map((n) => id[n] as string));
  }

  function patient(name: string, seed: number, extra: Parameters<typeof testPatient>[1] = {}) {
    nhs[name] = makeTestNhsNumber(seed);
    return create(name, testPatient(seed, extra));
  }

  beforeAll(async () => {
    db = await backend.open();
    s = await startTestServer(db);

    // Date and string searches: family "Testperson-…".
    await patient('zoe', 101, {
      name: [{ family: 'Testperson-Zoë', given: ['Zoë'] }],
      birthDate: '1950-02-14',
      address: [{ line: ['1 Test Street'], city: 'Testtown', postalCode: 'ZZ99 3CZ' }],
    });
    await patient('baker', 102, {
      name: [{ family: 'Testperson-Baker', given: ['Sam'] }],
      birthDate: '1950-07-01',
      address: [{ city: 'Testtown', postalCode: 'ZZ99 4QB' }],
    });
    await patient('carter', 103, { name: [{ family: 'Testperson-Carter', given: ['Lee'] }], birthDate: '1951-01-01' });
    await patient('dunn', 104, { name: [{ family: 'Testperson-Dunn', given: ['Jo'] }], birthDate: '1949-12-31' });
    // A birth year only: the index holds the whole of 1950.
    await patient('evans', 105, { name: [{ family: 'Testperson-Evans', given: ['Ash'] }], birthDate: '1950' });
    // Identifiers without a system, and with a local system; no birth date.
    await create('local', {
      resourceType: 'Patient',
      identifier: [{ value: 'LOCAL-0106' }, { system: LOCAL, value: 'TL-106' }, { system: LOCAL, value: 'TL|107,b' }],
      name: [{ family: 'Testlocal', given: ['Kit'] }],
      gender: 'unknown',
    });

    // Sorting: created in an order that differs from every sort key.
    await patient('sortBell55', 201, { name: [{ family: 'Testsort-Bell' }], gender: 'male', birthDate: '1955-01-01' });
    await patient('sortCole', 202, { name: [{ family: 'Testsort-Cole' }], gender: 'male', birthDate: '1965-08-08' });
    await patient('sortAmes', 203, { name: [{ family: 'Testsort-Ames' }], gender: 'female', birthDate: '1960-05-05' });
    await patient('sortBell70', 204, { name: [{ family: 'Testsort-Bell' }], gender: 'female', birthDate: '1970-03-03' });

    // Includes: a council organisation and a practitioner in a care team.
    await create('org', {
      resourceType: 'Organization',
      identifier: [{ system: ODS, value: 'X99001' }],
      name: 'Testshire Council Adult Social Care',
    });
    await create('practitioner', {
      resourceType: 'Practitioner',
      name: [{ family: 'Testpractitioner', given: ['Rowan'] }],
    });
    await create('careTeam', {
      resourceType: 'CareTeam',
      status: 'active',
      subject: { reference: `Patient/${id.dunn}` },
      participant: [{ member: { reference: `Practitioner/${id.practitioner}` } }, { member: { reference: `Organization/${id.org}` } }],
    });

    // Paging: seven patients registered with the organisation.
    for (let i = 0; i < 7; i++) {
      await patient(`page${i}`, 301 + i, {
        name: [{ family: `Testpage${i}` }],
        birthDate: `1980-01-0${i + 1}`,
        generalPractitioner: [{ reference: `Organization/${id.org}` }],
      });
    }

    // CarePlans (see the table in each test's expectations).
    const sctCategory = (code: string): CarePlan['category'] => [{ coding: [{ system: SCT, code }] }];
    await create('cp1', testCarePlan(id.zoe as string));
    await create('cp2', testCarePlan(id.zoe as string, { status: 'completed', period: { start: '2024-03-01', end: '2024-06-30' } }));
    await create('cp3', testCarePlan(id.baker as string, { status: 'draft', category: sctCategory('718347000'), period: { start: '2023-01-01', end: '2023-12-31' } }));
    const { category: _c, period: _p, ...bare } = testCarePlan(id.carter as string);
    await create('cp4', bare);
    // Subject given only by NHS number, as a GP system might send it.
    const { period: _p2, ...noPeriod } = testCarePlan('unused', { status: 'on-hold' });
    await create('cpIdent', { ...noPeriod, subject: { identifier: { system: NHS, value: nhs.zoe }, display: 'Zoë Testperson' } });
    const { period: _p3, ...cp5 } = testCarePlan(id.dunn as string, { status: 'revoked', careTeam: [{ reference: `CareTeam/${id.careTeam}` }] });
    await create('cp5', cp5);
  });

  afterAll(async () => {
    await s?.close();
    await db?.close();
  });

  describe('token', () => {
    test('Patient by NHS number: system|value, value alone', async () => {
      expect(await found(`Patient?identifier=${NHS}|${nhs.zoe}`)).toEqual(ids('zoe'));
      expect(await found(`Patient?identifier=${nhs.zoe}`)).toEqual(ids('zoe'));
      expect(await found(`Patient?identifier=${encodeURIComponent(`${NHS}|${nhs.zoe}`)}`)).toEqual(ids('zoe'));
      expect(await found(`Patient?identifier=${nhs.zoe},${nhs.baker}`)).toEqual(ids('zoe', 'baker'));
      expect(await found(`Patient?identifier=${LOCAL}|${nhs.zoe}`)).toEqual([]);
    });

    test('|value matches only identifiers without a system; system| matches any value in that system', async () => {
      expect(await found('Patient?identifier=|LOCAL-0106')).toEqual(ids('local'));
      expect(await found(`Patient?identifier=|${nhs.zoe}`)).toEqual([]);
      expect(await found(`Patient?identifier=${LOCAL}|`)).toEqual(ids('local'));
      // Escaped "|" and "," are part of the value (R4 search.html#escaping).
      expect(await found(`Patient?identifier=${encodeURIComponent(`${LOCAL}|TL\\|107\\,b`)}`)).toEqual(ids('local'));
      expect(await found(`Patient?identifier=${encodeURIComponent('TL\\|107\\,b')}`)).toEqual(ids('local'));
      expect(await found(`Patient?identifier=${encodeURIComponent('TL|107')}`)).toEqual([]);
      expect(await found(`Patient?identifier=${NHS}|&family=testperson`)).toEqual(ids('zoe', 'baker', 'carter', 'dunn', 'evans'));
    });

    test('CarePlan category and status: system|code, code, system|, |code, OR', async () => {
      const sct734 = ids('cp1', 'cp2', 'cpIdent', 'cp5');
      expect(await found(`CarePlan?category=${SCT}|734163000`)).toEqual(sct734);
      expect(await found('CarePlan?category=734163000')).toEqual(sct734);
      expect(await found(`CarePlan?category=${SCT}|`)).toEqual(ids('cp1', 'cp2', 'cp3', 'cpIdent', 'cp5'));
      expect(await found('CarePlan?category=|734163000')).toEqual([]);
      expect(await found('CarePlan?status=active')).toEqual(ids('cp1', 'cp4'));
      expect(await found('CarePlan?status=active,draft')).toEqual(ids('cp1', 'cp3', 'cp4'));
      expect(await found('CarePlan?status=active&category=734163000')).toEqual(ids('cp1'));
    });

    test(':not excludes matches and keeps resources without any value', async () => {
      expect(await found('CarePlan?status:not=active')).toEqual(ids('cp2', 'cp3', 'cpIdent', 'cp5'));
      expect(await found(`CarePlan?category:not=${SCT}|734163000`)).toEqual(ids('cp3', 'cp4'));
      expect(await found('CarePlan?status:not=active,completed')).toEqual(ids('cp3', 'cpIdent', 'cp5'));
    });

    test(':missing=true and :missing=false', async () => {
      expect(await found('CarePlan?category:missing=true')).toEqual(ids('cp4'));
      expect(await found('CarePlan?category:missing=false')).toEqual(ids('cp1', 'cp2', 'cp3', 'cpIdent', 'cp5'));
      expect(await found('CarePlan?date:missing=true')).toEqual(ids('cp4', 'cpIdent', 'cp5'));
      expect(await found('CarePlan?care-team:missing=false')).toEqual(ids('cp5'));
      expect(await found('Patient?birthdate:missing=true')).toEqual(ids('local'));
    });
  });

  describe('reference', () => {
    test('by id: Type/id, bare id, absolute URL, the patient parameter, a type modifier', async () => {
      const zoePlans = ids('cp1', 'cp2');
      expect(await found(`CarePlan?subject=Patient/${id.zoe}`)).toEqual(zoePlans);
      expect(await found(`CarePlan?subject=${id.zoe}`)).toEqual(zoePlans);
      expect(await found(`CarePlan?subject=${encodeURIComponent(`${s.fhir}/Patient/${id.zoe}`)}`)).toEqual(zoePlans);
      expect(await found(`CarePlan?patient=${id.zoe}`)).toEqual(zoePlans);
      expect(await found(`CarePlan?patient=Patient/${id.zoe}`)).toEqual(zoePlans);
      expect(await found(`CarePlan?subject=Patient/${id.zoe}/_history/1`)).toEqual(zoePlans);
      expect(await found(`CarePlan?subject:Patient=${id.zoe}`)).toEqual(zoePlans);
      expect(await found(`CarePlan?subject:Group=${id.zoe}`)).toEqual([]);
      expect(await found(`CarePlan?subject=Group/${id.zoe}`)).toEqual([]);
      expect(await found(`CarePlan?subject=${id.zoe},${id.baker}`)).toEqual(ids('cp1', 'cp2', 'cp3'));
      expect(await found(`CarePlan?subject:not=Patient/${id.zoe}`)).toEqual(ids('cp3', 'cp4', 'cpIdent', 'cp5'));
      expect(await found(`CareTeam?participant=Organization/${id.org}`)).toEqual(ids('careTeam'));
    });

    test(':identifier finds plans of the patient carrying the NHS number and plans whose reference carries it', async () => {
      const byNhs = ids('cp1', 'cp2', 'cpIdent');
      expect(await found(`CarePlan?subject:identifier=${NHS}|${nhs.zoe}`)).toEqual(byNhs);
      expect(await found(`CarePlan?subject:identifier=${nhs.zoe}`)).toEqual(byNhs);
      expect(await found(`CarePlan?subject:identifier=${NHS}|${nhs.baker}`)).toEqual(ids('cp3'));
      expect(await found(`CarePlan?subject:identifier=${LOCAL}|${nhs.zoe}`)).toEqual([]);
      expect(await found(`CarePlan?subject:identifier=${NHS}|${nhs.zoe}&status=active`)).toEqual(ids('cp1'));
      expect(await found(`Patient?general-practitioner:identifier=${ODS}|X99001&family=testperson-zoe`)).toEqual(ids('zoe'));
    });
  });

  describe('date', () => {
    const family = 'family=testperson';
    test('birthdate equality with full and partial dates', async () => {
      expect(await found(`Patient?${family}&birthdate=1950`)).toEqual(ids('zoe', 'baker', 'evans'));
      expect(await found(`Patient?${family}&birthdate=1950-02`)).toEqual(ids('zoe'));
      expect(await found(`Patient?${family}&birthdate=1950-02-14`)).toEqual(ids('zoe'));
      expect(await found(`Patient?${family}&birthdate=eq1950-02-14`)).toEqual(ids('zoe'));
      expect(await found(`Patient?${family}&birthdate=1950-02-15`)).toEqual([]);
      expect(await found(`Patient?${family}&birthdate=ne1950`)).toEqual(ids('carter', 'dunn'));
    });

    test('birthdate prefixes ge le gt lt sa eb ap, and two bounds combined', async () => {
      expect(await found(`Patient?${family}&birthdate=ge1950`)).toEqual(ids('zoe', 'baker', 'carter', 'evans'));
      expect(await found(`Patient?${family}&birthdate=le1950`)).toEqual(ids('zoe', 'baker', 'dunn', 'evans'));
      expect(await found(`Patient?${family}&birthdate=gt1950`)).toEqual(ids('carter'));
      expect(await found(`Patient?${family}&birthdate=lt1950`)).toEqual(ids('dunn'));
      expect(await found(`Patient?${family}&birthdate=sa1950`)).toEqual(ids('carter'));
      expect(await found(`Patient?${family}&birthdate=eb1950`)).toEqual(ids('dunn'));
      expect(await found(`Patient?${family}&birthdate=ap1950-02`)).toEqual(ids('zoe', 'evans'));
      expect(await found(`Patient?${family}&birthdate=gt1950-02-14`)).toEqual(ids('baker', 'carter', 'evans'));
      expect(await found(`Patient?${family}&birthdate=ge1950-01-01&birthdate=le1950-06`)).toEqual(ids('zoe', 'evans'));
      expect(await found(`Patient?${family}&birthdate=${encodeURIComponent('ge1950-07-01T00:00:00+01:00')}`)).toEqual(
        ids('baker', 'carter', 'evans')
      );
    });

    test('CarePlan date (period, open-ended or closed) with prefixes', async () => {
      expect(await found('CarePlan?date=2024')).toEqual(ids('cp2'));
      expect(await found('CarePlan?date=2024-03')).toEqual([]);
      expect(await found('CarePlan?date=ap2024-03')).toEqual(ids('cp2'));
      expect(await found('CarePlan?date=gt2024')).toEqual(ids('cp1'));
      expect(await found('CarePlan?date=ge2025-01-01')).toEqual(ids('cp1'));
      expect(await found('CarePlan?date=lt2024')).toEqual(ids('cp3'));
      expect(await found('CarePlan?date=le2024-03-01')).toEqual(ids('cp2', 'cp3'));
      expect(await found('CarePlan?date=sa2024')).toEqual(ids('cp1'));
      expect(await found('CarePlan?date=sa2023-06')).toEqual(ids('cp1', 'cp2'));
      expect(await found('CarePlan?date=eb2024')).toEqual(ids('cp3'));
      expect(await found('CarePlan?date=eb2024-07')).toEqual(ids('cp2', 'cp3'));
      expect(await found('CarePlan?date=ap2030')).toEqual(ids('cp1'));
    });

    test('_lastUpdated compares instants', async () => {
      const t = lastUpdated.carter as string;
      expect(await found(`Patient?${family}&_lastUpdated=gt${encodeURIComponent(t)}`)).toEqual(ids('dunn', 'evans'));
      expect(await found(`Patient?${family}&_lastUpdated=ge${encodeURIComponent(t)}`)).toEqual(ids('carter', 'dunn', 'evans'));
      expect(await found(`Patient?${family}&_lastUpdated=lt${encodeURIComponent(t)}`)).toEqual(ids('zoe', 'baker'));
      expect(await found(`Patient?${family}&_lastUpdated=gt2000-01-01`)).toHaveLength(5);
      expect(await found(`Patient?${family}&_lastUpdated=lt2000-01-01`)).toEqual([]);
    });
  });

  describe('string', () => {
    test('default match is starts-with, ignoring case and accents', async () => {
      expect(await found('Patient?name=zoe')).toEqual(ids('zoe'));
      expect(await found('Patient?name=ZOË')).toEqual(ids('zoe'));
      expect(await found(`Patient?name=${encodeURIComponent('Zoë')}`)).toEqual(ids('zoe'));
      expect(await found('Patient?family=testperson-z')).toEqual(ids('zoe'));
      expect(await found('Patient?family=TESTPERSON')).toEqual(ids('zoe', 'baker', 'carter', 'dunn', 'evans'));
      expect(await found('Patient?family=person')).toEqual([]);
      expect(await found('Patient?name=oe')).toEqual([]);
      expect(await found('Patient?family=testperson-zoe,testperson-baker')).toEqual(ids('zoe', 'baker'));
    });

    test(':exact is case- and accent-sensitive whole-value match', async () => {
      expect(await found(`Patient?name:exact=${encodeURIComponent('Zoë')}`)).toEqual(ids('zoe'));
      expect(await found(`Patient?name:exact=${encodeURIComponent('zoë')}`)).toEqual([]);
      expect(await found('Patient?name:exact=Zoe')).toEqual([]);
      expect(await found(`Patient?family:exact=${encodeURIComponent('Testperson-Zoë')}`)).toEqual(ids('zoe'));
      expect(await found('Patient?family:exact=Testperson')).toEqual([]);
    });

    test(':contains matches anywhere, ignoring case and accents', async () => {
      expect(await found('Patient?family:contains=ZOE')).toEqual(ids('zoe'));
      expect(await found(`Patient?name:contains=${encodeURIComponent('oë')}`)).toEqual(ids('zoe'));
      expect(await found('Patient?family:contains=erson-')).toEqual(ids('zoe', 'baker', 'carter', 'dunn', 'evans'));
    });

    test('LIKE wildcards in values are literal', async () => {
      expect(await found(`Patient?family=${encodeURIComponent('Testperson%')}`)).toEqual([]);
      expect(await found(`Patient?family=${encodeURIComponent('Test_erson')}`)).toEqual([]);
      expect(await found(`Patient?family:contains=${encodeURIComponent('%')}`)).toEqual([]);
    });

    test('address-postalcode: default, :exact, :contains', async () => {
      expect(await found('Patient?address-postalcode=zz99')).toEqual(ids('zoe', 'baker'));
      expect(await found(`Patient?address-postalcode=${encodeURIComponent('zz99 3')}`)).toEqual(ids('zoe'));
      expect(await found(`Patient?address-postalcode:exact=${encodeURIComponent('ZZ99 3CZ')}`)).toEqual(ids('zoe'));
      expect(await found(`Patient?address-postalcode:exact=${encodeURIComponent('zz99 3cz')}`)).toEqual([]);
      expect(await found('Patient?address-postalcode:contains=4qb')).toEqual(ids('baker'));
      expect(await found('Patient?address=testtown')).toEqual(ids('zoe', 'baker'));
    });
  });

  describe('paging', () => {
    const pageOrder = (): string[] => [6, 5, 4, 3, 2, 1, 0].map((i) => id[`page${i}`] as string);

    test('next links walk every match once, in order, keeping filters, _sort and _include; previous leads back', async () => {
      const pages: Bundle[] = [];
      let url: string | undefined = 'Patient?family=testpage&_sort=-birthdate&_count=3&_include=Patient:general-practitioner';
      while (url) {
        const page = await search(url);
        pages.push(page);
        url = link(page, 'next');
        expect(pages.length).toBeLessThan(10);
      }
      expect(pages.map((p) => matchIds(p).length)).toEqual([3, 3, 1]);
      expect(pages.flatMap(matchIds)).toEqual(pageOrder());
      for (const page of pages) {
        expect(page.total).toBe(7);
        // The organisation is included once per page and never counted.
        expect(includeKeys(page)).toEqual([`Organization/${id.org}`]);
        for (const rel of ['self', 'next', 'previous']) {
          const u = link(page, rel);
          if (!u) continue;
          const q = new URL(u).searchParams;
          expect(q.get('family')).toBe('testpage');
          expect(q.get('_sort')).toBe('-birthdate');
          expect(q.get('_count')).toBe('3');
          expect(q.getAll('_include')).toEqual(['Patient:general-practitioner']);
          expect(u.startsWith(`${s.fhir}/Patient?`)).toBe(true);
        }
      }
      expect(link(pages[0] as Bundle, 'previous')).toBeUndefined();
      expect(link(pages[2] as Bundle, 'next')).toBeUndefined();

      // Back from the last page, page by page.
      const back2 = await search(link(pages[2] as Bundle, 'previous') as string);
      expect(matchIds(back2)).toEqual(matchIds(pages[1] as Bundle));
      const back1 = await search(link(back2, 'previous') as string);
      expect(matchIds(back1)).toEqual(matchIds(pages[0] as Bundle));
      expect(link(back1, 'previous')).toBeUndefined();

      // The self link repeats its own page.
      expect(matchIds(await search(link(pages[1] as Bundle, 'self') as string))).toEqual(matchIds(pages[1] as Bundle));
    });

    test('_count=1 walks all seven pages; an exact fit has no next; past the end is empty with the right total', async () => {
      const seen: string[] = [];
      let url: string | undefined = 'Patient?family=testpage&_sort=-birthdate&_count=1';
      while (url) {
        const page = await search(url);
        expect(page.total).toBe(7);
        seen.push(...matchIds(page));
        url = link(page, 'next');
        expect(seen.length).toBeLessThan(10);
      }
      expect(seen).toEqual(pageOrder());

      const all = await search('Patient?family=testpage&_sort=-birthdate&_count=7');
      expect(matchIds(all)).toEqual(pageOrder());
      expect(link(all, 'next')).toBeUndefined();
      expect(all.total).toBe(7);

      // A page size above the server's cap is capped, and the links say so.
      const capped = await search('Patient?family=testpage&_count=100000');
      expect(matchIds(capped)).toHaveLength(7);
      expect(new URL(link(capped, 'self') as string).searchParams.get('_count')).toBe('1000');

      const beyond = await search('Patient?family=testpage&_count=3&_offset=9');
      expect(matchIds(beyond)).toEqual([]);
      expect(beyond.total).toBe(7);
      expect(link(beyond, 'next')).toBeUndefined();
    });

    test('_total=none leaves total out and keeps saying so in the links', async () => {
      const first = await search('Patient?family=testpage&_count=3&_total=none');
      expect(first.total).toBeUndefined();
      expect(matchIds(first)).toHaveLength(3);
      const next = link(first, 'next') as string;
      expect(new URL(next).searchParams.get('_total')).toBe('none');
      expect((await search(next)).total).toBeUndefined();
    });

    test('paging without _sort is still stable and complete', async () => {
      const seen: string[] = [];
      let url: string | undefined = 'Patient?family=testpage&_count=2';
      while (url) {
        const page = await search(url);
        seen.push(...matchIds(page));
        url = link(page, 'next');
        expect(seen.length).toBeLessThan(10);
      }
      expect(sorted(seen)).toEqual(sorted(pageOrder()));
      expect(new Set(seen).size).toBe(7);
    });

    test('links keep prefixes, modifiers and escaped values', async () => {
      const q = `Patient?family:contains=page&birthdate=ge1980-01-02&birthdate=lt1980-01-07&identifier:not=${nhs.page3}&_count=2&_sort=birthdate`;
      const first = await search(q);
      const expected = [1, 2, 4, 5].map((i) => id[`page${i}`] as string);
      expect(first.total).toBe(4);
      const second = await search(link(first, 'next') as string);
      expect([...matchIds(first), ...matchIds(second)]).toEqual(expected);
      expect(link(second, 'next')).toBeUndefined();
      const params = new URL(link(first, 'next') as string).searchParams;
      expect(params.getAll('birthdate')).toEqual(['ge1980-01-02', 'lt1980-01-07']);
      expect(params.get('family:contains')).toBe('page');
      expect(params.get('identifier:not')).toBe(nhs.page3);
    });
  });

  describe('_sort', () => {
    const sortQuery = (sort: string): Promise<string[]> => search(`Patient?family=testsort&_sort=${sort}`).then(matchIds);

    test('birthdate ascending and descending', async () => {
      const asc = ['sortBell55', 'sortAmes', 'sortCole', 'sortBell70'].map((n) => id[n]);
      expect(await sortQuery('birthdate')).toEqual(asc);
      expect(await sortQuery('-birthdate')).toEqual([...asc].reverse());
    });

    test('_lastUpdated ascending and descending', async () => {
      const asc = ['sortBell55', 'sortCole', 'sortAmes', 'sortBell70'].map((n) => id[n]);
      expect(await sortQuery('_lastUpdated')).toEqual(asc);
      expect(await sortQuery('-_lastUpdated')).toEqual([...asc].reverse());
    });

    test('family ascending and descending, ties broken the same way every time', async () => {
      const asc = await sortQuery('family');
      expect(asc[0]).toBe(id.sortAmes);
      expect(sorted(asc.slice(1, 3))).toEqual(ids('sortBell55', 'sortBell70'));
      expect(asc[3]).toBe(id.sortCole);
      expect(await sortQuery('family')).toEqual(asc);
      const desc = await sortQuery('-family');
      expect(desc[0]).toBe(id.sortCole);
      expect(desc[3]).toBe(id.sortAmes);
    });

    test('several keys', async () => {
      const named = (...n: string[]): (string | undefined)[] => n.map((x) => id[x]);
      expect(await sortQuery('family,-birthdate')).toEqual(named('sortAmes', 'sortBell70', 'sortBell55', 'sortCole'));
      expect(await sortQuery('family,birthdate')).toEqual(named('sortAmes', 'sortBell55', 'sortBell70', 'sortCole'));
      expect(await sortQuery('-family,birthdate')).toEqual(named('sortCole', 'sortBell55', 'sortBell70', 'sortAmes'));
      expect(await sortQuery('gender,birthdate')).toEqual(named('sortAmes', 'sortBell70', 'sortBell55', 'sortCole'));
      expect(await sortQuery('gender,-_lastUpdated')).toEqual(named('sortBell70', 'sortAmes', 'sortCole', 'sortBell55'));
    });

    test('resources without the sort value come last either way', async () => {
      const q = (sort: string) => search(`Patient?identifier=|LOCAL-0106,${nhs.zoe}&_sort=${sort}`).then(matchIds);
      expect(await q('birthdate')).toEqual([id.zoe, id.local]);
      expect(await q('-birthdate')).toEqual([id.zoe, id.local]);
    });
  });

  describe('_include and _revinclude', () => {
    test('_include=CarePlan:subject adds the patients as include entries, not counted in total', async () => {
      const b = await search(`CarePlan?_id=${id.cp1},${id.cp2},${id.cp3}&_include=CarePlan:subject`);
      expect(sorted(matchIds(b))).toEqual(ids('cp1', 'cp2', 'cp3'));
      expect(includeKeys(b)).toEqual(sorted([`Patient/${id.zoe}`, `Patient/${id.baker}`]));
      expect(b.total).toBe(3);
      for (const e of entries(b, 'include')) {
        expect(e.fullUrl).toBe(`${s.fhir}/${e.resource?.resourceType}/${e.resource?.id}`);
      }
      const typed = await search(`CarePlan?_id=${id.cp1}&_include=CarePlan:subject:Patient`);
      expect(includeKeys(typed)).toEqual([`Patient/${id.zoe}`]);
      const wrongType = await search(`CarePlan?_id=${id.cp1}&_include=CarePlan:subject:Group`);
      expect(includeKeys(wrongType)).toEqual([]);
    });

    test('_revinclude=CarePlan:subject from Patient', async () => {
      const b = await search(`Patient?_id=${id.zoe}&_revinclude=CarePlan:subject`);
      expect(matchIds(b)).toEqual([id.zoe]);
      expect(includeKeys(b)).toEqual(sorted([`CarePlan/${id.cp1}`, `CarePlan/${id.cp2}`]));
      expect(b.total).toBe(1);
    });

    test('_include:iterate follows references from included resources; plain _include does not', async () => {
      const iter = await search(`CarePlan?_id=${id.cp5}&_include=CarePlan:care-team&_include:iterate=CareTeam:participant`);
      expect(matchIds(iter)).toEqual([id.cp5]);
      expect(includeKeys(iter)).toEqual(
        sorted([`CareTeam/${id.careTeam}`, `Practitioner/${id.practitioner}`, `Organization/${id.org}`])
      );
      expect(iter.total).toBe(1);
      const next = new URL((iter.link ?? []).find((l) => l.relation === 'self')?.url as string).searchParams;
      expect(next.getAll('_include:iterate')).toEqual(['CareTeam:participant']);

      const flat = await search(`CarePlan?_id=${id.cp5}&_include=CarePlan:care-team&_include=CareTeam:participant`);
      expect(includeKeys(flat)).toEqual([`CareTeam/${id.careTeam}`]);
    });

    test('_revinclude:iterate reaches resources pointing at included ones', async () => {
      const b = await search(`CarePlan?_id=${id.cp5}&_include=CarePlan:subject&_revinclude:iterate=CareTeam:subject`);
      expect(includeKeys(b)).toEqual(sorted([`Patient/${id.dunn}`, `CareTeam/${id.careTeam}`]));
    });
  });

  describe('_summary and _elements', () => {
    test('_summary=count gives the total and no entries', async () => {
      const b = await search('Patient?family=testperson&_summary=count');
      expect(b.total).toBe(5);
      expect(b.entry).toBeUndefined();
      const withInclude = await search('CarePlan?_summary=count&_include=CarePlan:subject');
      expect(withInclude.total).toBe(6);
      expect(withInclude.entry).toBeUndefined();
    });

    test('_elements=name,gender keeps those (and id, meta) and tags SUBSETTED', async () => {
      const b = await search(`Patient?_id=${id.zoe}&_elements=name,gender`);
      const r = entries(b, 'match')[0]?.resource as any;
      expect(Object.keys(r).sort()).toEqual(['gender', 'id', 'meta', 'name', 'resourceType']);
      expect(r.meta.tag).toContainEqual(expect.objectContaining({ code: 'SUBSETTED' }));
      // The stored resource is untouched.
      const read = await s.request('GET', `Patient/${id.zoe}`);
      expect(read.body.birthDate).toBe('1950-02-14');
      expect(read.body.meta.tag).toBeUndefined();
    });

    test('_summary=true keeps summary elements only', async () => {
      const b = await search(`Patient?_id=${id.zoe}&_summary=true`);
      const r = entries(b, 'match')[0]?.resource as any;
      expect(r.name).toBeDefined();
      expect(r.birthDate).toBe('1950-02-14');
      expect(r.identifier).toBeDefined();
      expect(r.generalPractitioner).toBeUndefined();
      expect(r.meta.tag).toContainEqual(expect.objectContaining({ code: 'SUBSETTED' }));
    });
  });

  describe('unknown and malformed parameters', () => {
    test('unknown parameters are ignored and reported in an outcome entry, and left out of links', async () => {
      const b = await search('Patient?family=testperson-zoe&foo=bar&subject.name=x&_summary=bogus');
      expect(matchIds(b)).toEqual([id.zoe]);
      expect(b.total).toBe(1);
      const outcomes = entries(b, 'outcome');
      expect(outcomes).toHaveLength(1);
      const oo = outcomes[0]?.resource as any;
      expect(oo.resourceType).toBe('OperationOutcome');
      const named = oo.issue.flatMap((i: any) => i.expression ?? []);
      expect(named).toEqual(expect.arrayContaining(['foo', 'subject.name', '_summary']));
      const self = link(b, 'self') as string;
      expect(self).not.toContain('foo');
      expect(self).not.toContain('subject.name');
    });

    test('Prefer: handling=strict answers 400 naming the parameter', async () => {
      const res = await s.request('GET', 'Patient?family=testperson&foo=bar', undefined, { prefer: 'handling=strict' });
      expect(res.status).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(JSON.stringify(res.body.issue)).toContain('foo');
      const lenient = await s.request('GET', 'Patient?family=testperson&foo=bar', undefined, { prefer: 'handling=lenient' });
      expect(lenient.status).toBe(200);
    });

    test.each([
      'Patient?birthdate=notadate',
      'Patient?birthdate=1950-13',
      'Patient?birthdate=1950-02-30',
      'Patient?birthdate=xx1950',
      'Patient?_count=abc',
      'Patient?_count=-1',
      'Patient?_count=1.5',
      'Patient?_offset=abc',
      'Patient?_lastUpdated=yesterday',
      'Patient?gender:missing=maybe',
      'Patient?_sort=nosuchparam',
      'Patient?_sort=',
      'Patient?family:foo=x',
      'Patient?family:below=x',
      'Patient?gender:text=x',
      'CarePlan?subject:exact=x',
      'CarePlan?date=ge',
      'CarePlan?subject:Practitioner=x',
      'Patient?_id:foo=x',
      'Patient?_lastUpdated:missing=true',
      // @medplum/core parses a date value whole, so OR lists of dates are refused rather than misread.
      'Patient?birthdate=1949-12-31,1951-01-01',
    ])('%s is 400 with an OperationOutcome', async (q) => {
      const res = await s.request('GET', q);
      expect(res.status).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue[0].severity).toBe('error');
    });
  });

  test('POST _search with a form body answers as GET does', async () => {
    const query = 'family=testperson&birthdate=ge1950&birthdate=le1950-06&_sort=-birthdate&_count=2';
    const get = await search(`Patient?${query}`);
    const post = await s.request('POST', 'Patient/_search', query, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(post.status).toBe(200);
    expect(matchIds(post.body)).toEqual(matchIds(get));
    expect(post.body.total).toBe(get.total);
    expect(post.body.link).toEqual(get.link);
    expect(matchIds(get)).toEqual([id.evans, id.zoe]);

    const inc = `_id=${id.cp1}&_include=CarePlan:subject&_include=CarePlan:care-team`;
    const postInc = await s.request('POST', 'CarePlan/_search', inc, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(includeKeys(postInc.body)).toEqual(includeKeys(await search(`CarePlan?${inc}`)));
    expect(includeKeys(postInc.body)).toEqual([`Patient/${id.zoe}`]);

    const mixed = await s.request('POST', 'Patient/_search?family=testperson', 'birthdate=1950-02', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(matchIds(mixed.body)).toEqual([id.zoe]);

    const unknown = await s.request('POST', 'Patient/_search', 'family=testperson-zoe&foo=bar', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(matchIds(unknown.body)).toEqual([id.zoe]);
    expect(entries(unknown.body, 'outcome')).toHaveLength(1);
  });

  test('deleted resources never appear in search, includes or counts', async () => {
    const gone = (await s.request('POST', 'Patient', testPatient(401, { name: [{ family: 'Testdeleted-Gone' }] }))).body;
    const kept = (await s.request('POST', 'Patient', testPatient(402, { name: [{ family: 'Testdeleted-Kept' }] }))).body;
    const { category: _c, ...uncategorised } = testCarePlan(kept.id, { status: 'entered-in-error' });
    const planGone = (await s.request('POST', 'CarePlan', uncategorised)).body;
    const planKept = (await s.request('POST', 'CarePlan', testCarePlan(gone.id, { status: 'entered-in-error' }))).body;
    expect(await found('Patient?family=testdeleted')).toEqual(sorted([gone.id, kept.id]));

    expect((await s.request('DELETE', `Patient/${gone.id}`)).status).toBe(200);
    expect((await s.request('DELETE', `CarePlan/${planGone.id}`)).status).toBe(200);

    expect(await found('Patient?family=testdeleted')).toEqual([kept.id]);
    expect(await found(`Patient?identifier=${NHS}|${makeTestNhsNumber(401)}`)).toEqual([]);
    expect(await found(`Patient?_id=${gone.id}`)).toEqual([]);
    expect((await search('Patient?family=testdeleted&_summary=count')).total).toBe(1);
    expect(await found('CarePlan?status=entered-in-error')).toEqual([planKept.id]);
    expect(await found(`CarePlan?subject=${kept.id}`)).toEqual([]);
    expect(await found('CarePlan?category:missing=true')).toEqual(ids('cp4'));
    expect(await found('CarePlan?status:not=active,completed,draft,on-hold,revoked')).toEqual([planKept.id]);

    const rev = await search(`Patient?_id=${kept.id}&_revinclude=CarePlan:subject`);
    expect(includeKeys(rev)).toEqual([]);
    const inc = await search(`CarePlan?_id=${planKept.id}&_include=CarePlan:subject`);
    expect(matchIds(inc)).toEqual([planKept.id]);
    expect(includeKeys(inc)).toEqual([]);

    // Recreating the deleted id makes it findable again under its new content.
    const back = await s.request('PUT', `Patient/${gone.id}`, { ...testPatient(401, { name: [{ family: 'Testdeleted-Back' }] }), id: gone.id });
    expect(back.status).toBe(201);
    expect(await found('Patient?family=testdeleted-back')).toEqual([gone.id]);
    expect(await found('Patient?family=testdeleted-gone')).toEqual([]);
  });

  test('an update replaces the indexed values', async () => {
    const p = (await s.request('POST', 'Patient', testPatient(501, { name: [{ family: 'Testrename-Old' }] }))).body;
    await s.request('PUT', `Patient/${p.id}`, { ...p, name: [{ family: 'Testrename-New' }], birthDate: '2001-01-01' });
    expect(await found('Patient?family=testrename-old')).toEqual([]);
    expect(await found('Patient?family=testrename-new')).toEqual([p.id]);
    expect(await found('Patient?family=testrename&birthdate=2001')).toEqual([p.id]);
  });
});

/**
 * The two searches every GP-facing flow starts with must stay index lookups
 * as data grows. Plans are checked on PostgreSQL (the production database)
 * after ANALYZE, against the SQL runSearch actually sends.
 */
const postgres = backends().filter((b) => b.name === 'postgres');
describe.skipIf(postgres.length === 0)('search query plans on PostgreSQL', () => {
  let db: Database;
  const PATIENTS = 3000;

  beforeAll(async () => {
    loadBaseSchema();
    db = await (postgres[0] as (typeof postgres)[0]).open();
    const now = new Date().toISOString();
    for (let i = 0; i < PATIENTS; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, async (_, k) => {
          const n = i + k;
          await writeVersion(db, { ...testPatient(n), id: `p${n}` }, 1, now, 'create');
          await writeVersion(db, { ...testCarePlan(`p${n}`), id: `cp${n}a` }, 1, now, 'create');
          await writeVersion(db, { ...testCarePlan(`p${n}`, { status: 'completed' }), id: `cp${n}b` }, 1, now, 'create');
        })
      );
    }
    await db.analyze();
  });
  afterAll(async () => {
    await db?.close();
  });

  const nhs1234 = makeTestNhsNumber(1234);
  test.each([
    `Patient?identifier=${NHS}|${nhs1234}`,
    `Patient?identifier=${nhs1234}&_revinclude=CarePlan:subject`,
    'CarePlan?subject=Patient/p1234&_count=1&_include=CarePlan:subject',
    'CarePlan?subject=p1234&_count=1',
    'CarePlan?patient=p1234&_count=1',
    `CarePlan?subject:identifier=${NHS}|${nhs1234}&_count=1`,
  ])('%s uses indexes, never a sequential scan', async (query) => {
    const sent: { text: string; params: unknown[] | undefined }[] = [];
    const recording: SqlClient = {
      query: (text, params) => {
        sent.push({ text, params });
        return db.query(text, params);
      },
      exec: (text) => db.exec(text),
    };
    const bundle = await runSearch(recording, 'http://test.invalid/fhir', parseSearchRequest(query));
    expect(bundle.entry?.length).toBeGreaterThan(0);
    expect(sent.length).toBeGreaterThan(0);
    for (const { text, params } of sent) {
      const plan = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, params);
      const lines = plan.rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(lines, text).not.toMatch(/Seq Scan/);
      expect(lines, text).toMatch(/Index (Only )?Scan/);
    }
  });
});
