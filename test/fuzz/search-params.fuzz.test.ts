import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { indexedParams } from '../../src/fhir/search/search-params.ts';
import { SUPPORTED_RESOURCE_TYPES } from '../../src/fhir/resource-types.ts';
import { backends } from '../support/backends.ts';
import { testCarePlan, testPatient } from '../support/fixtures.ts';
import { suiteServer } from '../support/test-server.ts';
import { expectFhirAnswer, nastyString, fuzzParams, FUZZ_TEST_TIMEOUT_MS, printTally } from './fuzz-support.ts';

/*
 * FHIR search under fuzzing: GET /fhir/{type}?{params} (and POST _search)
 * with arbitrary names, known names with arbitrary modifiers, prefixes and
 * values, chains, includes, result parameters and percent-encoding oddities.
 * Whatever the query, the answer is a searchset or a 4xx OperationOutcome,
 * never a 5xx. A few resources are stored first so the SQL has rows to
 * match, join and include.
 */

const TYPES = [...SUPPORTED_RESOURCE_TYPES];
const MODIFIERS = ['exact', 'missing', 'not', 'contains', 'identifier', 'text', 'below', 'above', 'in', 'not-in', 'of-type', 'iterate', 'Patient', 'Practitioner', 'Organization', 'CarePlan', 'foo', '', ':'];
const PREFIXES = ['', 'eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap', 'xx'];
const RESULT = ['_count', '_offset', '_sort', '_summary', '_elements', '_total', '_include', '_revinclude', '_has', '_id', '_lastUpdated', '_type', '_text', '_content', '_filter', '_list', '_query', '_pretty', '_format', '_tag', '_profile', '_security', '_source'];

/** Values shaped like what search parameters take, and not. */
// Each value at most 1,500 characters, so six of them, percent-encoded, stay under
// Node's 16 KiB request head (longer URLs: the last test and the 431 regression test).
const valueLike: fc.Arbitrary<string> = fc.oneof(
  nastyString.map((v) => v.slice(0, 1500)),
  fc.constantFrom(
    'https://fhir.nhs.uk/Id/nhs-number|9990000018',
    '|9990000018',
    'https://fhir.nhs.uk/Id/nhs-number|',
    'http://snomed.info/sct|734163000',
    'male',
    'active',
    'true',
    'false',
    'Patient/1',
    'Patient/',
    'Patient/../../x',
    'urn:uuid:6f1c1c1e-5b8a-4d7e-9a53-0c1f3b2a9d10',
    'http://127.0.0.1/fhir/Patient/1',
    '2025',
    '2025-01',
    '2025-01-01',
    '2025-01-01T10:00:00Z',
    '2025-01-01T10:00:00+14:00',
    '2025-02-30',
    '2025-13',
    '10000-01-01',
    '-0001-01-01',
    '2025-01-01T25:00',
    'a,b,c',
    'a\\,b',
    '\\',
    'X99001',
    '-name',
    'name,-birthdate',
    '_id,-_lastUpdated',
    'identifier,name',
    'Patient:general-practitioner',
    'CarePlan:subject',
    'CarePlan:subject:Patient',
    'CarePlan:*',
    '*',
    'count',
    'accurate',
    'estimate',
    '0',
    '-1',
    '1e3',
    '999999999',
    '9999999999999999999999'
  )
);

/** A value, maybe with a comparison prefix. */
const prefixed: fc.Arbitrary<string> = fc.tuple(fc.constantFrom(...PREFIXES), valueLike).map(([p, v]) => p + v);

/**
 * encodeURIComponent, except that a lone surrogate (which it refuses) is
 * written as the three bytes CESU-8 would use: percent-encoded bytes that
 * are not UTF-8, as a careless client might send.
 */
function encodeLoose(text: string): string {
  let out = '';
  for (const ch of text) {
    try {
      out += encodeURIComponent(ch);
    } catch {
      const c = ch.charCodeAt(0);
      out += [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    }
  }
  return out;
}

/** How a piece of the query is written into the URL. */
const encoded = (text: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.tuple(text, fc.constantFrom('encode', 'raw', 'raw-safe', 'plus')).map(([t, how]) => {
    if (how === 'encode') return encodeLoose(t);
    // Raw percent signs and odd bytes as the client typed them; the fetch URL parser keeps most of it.
    if (how === 'raw') return t.replace(/[#&\s]/g, (c) => encodeURIComponent(c)).replace(/[\uD800-\uDFFF]/g, (c) => encodeLoose(c));
    if (how === 'plus') return encodeLoose(t).replace(/%20/g, '+');
    return t.replace(/[^A-Za-z0-9._~:|,\-$%]/g, (c) => encodeLoose(c));
  });

describe.each(backends())('search parameters under fuzzing ($name)', (backend) => {
  const s = suiteServer(backend);
  afterAll(printTally);
  let patientId = '';

  beforeAll(async () => {
    const patients = [];
    for (const seed of [61, 62, 63]) patients.push((await s.request('POST', 'Patient', testPatient(seed))).body);
    patientId = patients[0].id;
    for (const p of patients) expect(p.resourceType).toBe('Patient');
    for (const p of patients) expect((await s.request('POST', 'CarePlan', testCarePlan(p.id))).status).toBe(201);
    expect((await s.request('POST', 'Practitioner', { resourceType: 'Practitioner', name: [{ family: 'Fuzzcarer' }] })).status).toBe(201);
  });

  /** A parameter name: a known one of `type` (maybe with a modifier or chain), a result parameter, or anything. */
  function paramName(type: string): fc.Arbitrary<string> {
    const known = [...indexedParams(type).keys()];
    const references = [...indexedParams(type).values()].filter((p) => p.kind === 'reference').map((p) => p.code);
    const anyKnown = known.length ? fc.constantFrom(...known) : fc.constant('_id');
    const withModifier = fc.tuple(anyKnown, fc.constantFrom(...MODIFIERS)).map(([p, m]) => `${p}:${m}`);
    const chainTail = fc.oneof(fc.constantFrom('name', 'identifier', 'family', 'name:exact', 'general-practitioner.identifier', '_id', 'birthdate', 'nope', ''), fc.string({ maxLength: 10 }));
    const chained = references.length
      ? fc.tuple(fc.constantFrom(...references), fc.constantFrom('', ':Patient', ':Practitioner', ':Group', ':x'), fc.array(chainTail, { minLength: 1, maxLength: 5 })).map(([r, m, tail]) => `${r}${m}.${tail.join('.')}`)
      : anyKnown;
    const has = fc
      .tuple(fc.constantFrom('CarePlan', 'Patient', 'Foo', ''), fc.constantFrom('subject', 'patient', 'general-practitioner', 'x', ''), fc.constantFrom('status', '_id', 'identifier', 'x', ''))
      .map(([t, r, p]) => `_has:${t}:${r}:${p}`);
    return fc.oneof(
      { weight: 4, arbitrary: anyKnown },
      { weight: 3, arbitrary: withModifier },
      { weight: 2, arbitrary: chained },
      { weight: 2, arbitrary: fc.constantFrom(...RESULT) },
      { weight: 1, arbitrary: fc.constantFrom(...RESULT).map((r) => `${r}:${['iterate', 'missing', 'x'][r.length % 3]}`) },
      { weight: 1, arbitrary: has },
      { weight: 1, arbitrary: nastyString.map((x) => x.slice(0, 200)) }
    );
  }

  /** A query string for `type`: 0..6 parameters, each name=value (or a bare name, or a bare '='). */
  function query(type: string): fc.Arbitrary<string> {
    const pair = fc.oneof(
      { weight: 8, arbitrary: fc.tuple(encoded(paramName(type)), encoded(prefixed)).map(([k, v]) => `${k}=${v}`) },
      { weight: 1, arbitrary: encoded(paramName(type)) },
      { weight: 1, arbitrary: fc.constantFrom('=', '==', '&', '=x', 'x==y', '%', '%zz=1', 'name=%E0%A4%A', 'name=%00', '_count=%31%30', '%5Fcount=1', '_count=1&_count=2', 'name=a&name=b') }
    );
    return fc.array(pair, { maxLength: 6 }).map((ps) => ps.join('&'));
  }

  const typeArb = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...TYPES) }, { weight: 1, arbitrary: fc.constantFrom('Foo', 'patient', 'Bundle', 'Observation', 'OperationOutcome', 'CodeSystem') });

  test('GET /fhir/{type}?{arbitrary parameters}: a searchset or a 4xx OperationOutcome', async () => {
    const request = typeArb.chain((type) => query(type).map((q) => ({ type, q })));
    // Prefer: handling=strict turns unknown parameters from dropped into refused: another path through the checks.
    const prefer = fc.constantFrom(undefined, 'handling=strict', 'handling=lenient', 'handling=strict, return=minimal', 'handling=', 'handling=strict; x', 'return=OperationOutcome');
    await fc.assert(
      fc.asyncProperty(request, prefer, async ({ type, q }, p) => {
        const r = await s.request('GET', `${type}?${q}`, undefined, p === undefined ? {} : { prefer: p });
        const what = `GET (Prefer: ${p}) ${type}?${q.slice(0, 500)}`;
        expectFhirAnswer(r, what);
        if (r.status === 200) {
          expect(r.body.resourceType, what).toBe('Bundle');
          expect(r.body.type, what).toBe('searchset');
        }
      }),
      fuzzParams(300)
    );
  });

  test('POST /fhir/{type}/_search with an arbitrary form body: the same answers', async () => {
    const request = fc.constantFrom(...TYPES).chain((type) => query(type).map((q) => ({ type, q })));
    await fc.assert(
      fc.asyncProperty(request, fc.constantFrom('application/x-www-form-urlencoded', 'application/fhir+json', 'text/plain'), async ({ type, q }, contentType) => {
        const r = await s.request('POST', `${type}/_search`, q, { 'content-type': contentType });
        const what = `POST ${type}/_search (${contentType}) ${q.slice(0, 500)}`;
        expectFhirAnswer(r, what);
      }),
      fuzzParams(80)
    );
  });

  test('searches around a stored patient: chains, includes, sorts and paging', async () => {
    const shaped = fc.constantFrom(
      `CarePlan?subject=Patient/${patientId}&_include=CarePlan:subject`,
      `CarePlan?subject:Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|`,
      `CarePlan?subject:Patient.general-practitioner.identifier=X99001`,
      `Patient?_revinclude=CarePlan:subject&_id=${patientId}`,
      `Patient?_revinclude:iterate=CarePlan:subject`,
      `Patient?_has:CarePlan:subject:status=active`,
      `Patient?_sort=-birthdate,family`,
      `Patient?_elements=name,identifier`
    );
    const extra = fc.array(fc.tuple(fc.constantFrom('_count', '_offset', '_sort', '_summary', '_elements', '_total', '_include', 'family', 'name:exact', 'birthdate'), prefixed), { maxLength: 3 });
    await fc.assert(
      fc.asyncProperty(shaped, extra, async (base, ps) => {
        const url = `${base}${ps.map(([k, v]) => `&${k}=${encodeLoose(v)}`).join('')}`;
        expectFhirAnswer(await s.request('GET', url), `GET ${url.slice(0, 500)}`);
      }),
      fuzzParams(100)
    );
  });

  test('very long values and queries', async () => {
    const long = fc.tuple(fc.constantFrom('Patient', 'CarePlan'), fc.constantFrom('family', 'name:contains', 'identifier', '_id', 'birthdate', 'subject', 'unknown', '_sort', '_elements'), fc.integer({ min: 1_000, max: 12_000 }), fc.constantFrom('x', 'é', ',', '|', '%'));
    await fc.assert(
      fc.asyncProperty(long, async ([type, name, n, unit]) => {
        const url = `${type}?${name}=${encodeURIComponent(unit.repeat(n)).slice(0, 12_000)}`;
        expectFhirAnswer(await s.request('GET', url), `GET ${url.slice(0, 200)}… (${url.length} chars)`);
      }),
      fuzzParams(30)
    );
  });
}, FUZZ_TEST_TIMEOUT_MS);
