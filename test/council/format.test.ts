import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { CODE_LISTS, RECORD_TYPES, parseCouncilRecord, todayInEngland } from '../../src/council/format/index.ts';
import { councilJsonSchema } from '../../src/council/schema.ts';
import { COUNCIL_SCHEMA_PATH, councilSchemaHandler } from '../../src/http/council-schema-route.ts';
import { jsonSchemaErrors } from './json-schema-check.ts';

const EXAMPLES_DIR = fileURLToPath(new URL('../../docs/examples/council/', import.meta.url));
const DOC = fileURLToPath(new URL('../../docs/council-format.md', import.meta.url));

const examples = readdirSync(EXAMPLES_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((file) => ({ file, json: JSON.parse(readFileSync(EXAMPLES_DIR + file, 'utf8')) as Record<string, unknown> }));

function example(file: string): Record<string, any> {
  const found = examples.find((e) => e.file === file);
  if (!found) throw new Error(`no example ${file}`);
  return structuredClone(found.json);
}

function issuesOf(json: unknown): { path: string; message: string }[] {
  const result = parseCouncilRecord(json);
  if (result.ok) throw new Error('expected the record to be refused');
  return result.issues;
}

describe('docs/examples/council', () => {
  it('has a live example of every record type, and a tombstone', () => {
    const live = new Set(examples.filter((e) => e.json.deleted !== true).map((e) => e.json.recordType));
    expect([...live].sort()).toEqual([...RECORD_TYPES].sort());
    expect(examples.some((e) => e.json.deleted === true)).toBe(true);
    for (const type of RECORD_TYPES) expect(examples.map((e) => e.file)).toContain(`${type}.json`);
  });

  it.each(examples.map((e) => [e.file, e.json] as const))('%s parses', (_file, json) => {
    const result = parseCouncilRecord(json);
    expect(result.ok ? [] : result.issues).toEqual([]);
  });

  it.each(examples.map((e) => [e.file, e.json] as const))('%s is valid against the JSON Schema', (_file, json) => {
    expect(jsonSchemaErrors(councilJsonSchema(), json)).toEqual([]);
  });

  it('every example appears, verbatim, in docs/council-format.md', () => {
    const doc = readFileSync(DOC, 'utf8');
    const blocks = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.stringify(JSON.parse(m[1]!)));
    for (const e of examples) expect(blocks, e.file).toContain(JSON.stringify(e.json));
  });
});

describe('docs/council-format.md', () => {
  it('lists every code of every code list under the list name', () => {
    const doc = readFileSync(DOC, 'utf8');
    for (const list of CODE_LISTS) {
      const start = doc.indexOf(`### ${list.name}\n`);
      expect(start, list.name).toBeGreaterThan(-1);
      const end = doc.indexOf('\n### ', start + 1);
      const section = doc.slice(start, end === -1 ? undefined : end);
      for (const code of Object.keys(list.codes)) expect(section, `${list.name} ${code}`).toContain(`| \`${code}\` |`);
    }
  });
});

describe('parseCouncilRecord: broken records give exact paths', () => {
  it('an NHS number with a wrong check digit', () => {
    const r = example('person.json');
    r.person.nhsNumber = '9990000019';
    expect(issuesOf(r)).toEqual([{ path: '$.person.nhsNumber', message: expect.stringContaining('check digit') }]);
  });

  it('an NHS number with spaces', () => {
    const r = example('contact.json');
    r.person.nhsNumber = '999 000 0018';
    expect(issuesOf(r)).toEqual([{ path: '$.person.nhsNumber', message: 'an NHS number is exactly 10 digits, without spaces' }]);
  });

  it("a related person's NHS number", () => {
    const r = example('related-person.json');
    r.relatedPerson.nhsNumber = '9990000027';
    expect(issuesOf(r).map((i) => i.path)).toEqual(['$.relatedPerson.nhsNumber']);
  });

  it('an unknown code names its list and the code', () => {
    const r = example('contact.json');
    r.routeOfAccess = 'XX';
    expect(issuesOf(r)).toEqual([{ path: '$.routeOfAccess', message: 'unknown code "XX" in code list "CLD route of access"' }]);
  });

  it('an unknown code deep in an array', () => {
    const r = example('assessment.json');
    r.eligibility.outcomes[3].outcome = 'flying';
    expect(issuesOf(r)).toEqual([{ path: '$.eligibility.outcomes[3].outcome', message: 'unknown code "flying" in code list "Care Act eligibility outcome"' }]);
  });

  it('an unknown purpose and data class in a consent', () => {
    const r = example('consent.json');
    r.scope.purposes[1] = 'MARKETING';
    r.scope.dataClasses.push('bank-details');
    expect(issuesOf(r)).toEqual([
      { path: '$.scope.purposes[1]', message: 'unknown code "MARKETING" in code list "purpose of use"' },
      { path: '$.scope.dataClasses[6]', message: 'unknown code "bank-details" in code list "JoinedUp data class"' },
    ]);
  });

  it('a missing localId', () => {
    const r = example('service.json');
    delete r.person.localId;
    expect(issuesOf(r)).toEqual([{ path: '$.person.localId', message: 'required' }]);
  });

  it('a missing person', () => {
    const r = example('review.json');
    delete r.person;
    expect(issuesOf(r)).toEqual([{ path: '$.person', message: 'required' }]);
  });

  it('a date of birth in the future', () => {
    const r = example('person.json');
    const next = new Date(`${todayInEngland()}T12:00:00Z`);
    next.setUTCDate(next.getUTCDate() + 2);
    r.birthDate = next.toISOString().slice(0, 10);
    expect(issuesOf(r)).toEqual([{ path: '$.birthDate', message: 'must not be in the future' }]);
  });

  it('a source lastUpdated in the future', () => {
    const r = example('care-team.json');
    r.source.lastUpdated = new Date(Date.now() + 86_400_000).toISOString();
    expect(issuesOf(r)).toEqual([{ path: '$.source.lastUpdated', message: 'must not be in the future' }]);
  });

  it('a planned review date in the future is fine', () => {
    const r = example('care-plan.json');
    r.reviewDate = '2099-01-01';
    expect(parseCouncilRecord(r).ok).toBe(true);
  });

  it('an impossible calendar date', () => {
    const r = example('safeguarding.json');
    r.opened = '2026-02-30';
    expect(issuesOf(r)).toEqual([{ path: '$.opened', message: 'a date as YYYY-MM-DD' }]);
  });

  it('an unknown field, at the top and nested', () => {
    const r = example('care-team.json');
    r.favouriteColour = 'blue';
    r.members[2].nickname = 'Olu';
    expect(issuesOf(r)).toEqual([
      { path: '$.members[2].nickname', message: 'unknown field "nickname"' },
      { path: '$.favouriteColour', message: 'unknown field "favouriteColour"' },
    ]);
  });

  it('a wrong recordType', () => {
    const r = example('person.json');
    r.recordType = 'patient';
    expect(issuesOf(r)).toEqual([{ path: '$.recordType', message: expect.stringMatching(/^unknown recordType: must be one of person, contact, /) }]);
  });

  it('a missing recordType', () => {
    const r = example('person.json');
    delete r.recordType;
    expect(issuesOf(r)).toEqual([{ path: '$.recordType', message: expect.stringMatching(/^required: one of person/) }]);
  });

  it('a wrong formatVersion', () => {
    const r = example('service.json');
    r.formatVersion = 2;
    expect(issuesOf(r)).toEqual([{ path: '$.formatVersion', message: 'formatVersion must be "1"' }]);
  });

  it('fields of another record type are unknown fields', () => {
    const r = example('service.json');
    r.recordType = 'review';
    const paths = issuesOf(r).map((i) => i.path);
    expect(paths).toContain('$.serviceType');
    expect(paths).toContain('$.date');
  });

  it('a bad ODS code', () => {
    const r = example('person.json');
    r.gpPracticeOds = 'x99-001';
    expect(issuesOf(r)).toEqual([{ path: '$.gpPracticeOds', message: 'an ODS code is 3 to 10 capital letters and digits' }]);
  });

  it('a wrong type says what it expected', () => {
    const r = example('service.json');
    r.hoursPerWeek = '10';
    expect(issuesOf(r)).toEqual([{ path: '$.hoursPerWeek', message: 'expected number, received string' }]);
  });

  it('not an object at all', () => {
    expect(issuesOf([])).toEqual([{ path: '$', message: 'a council record is a JSON object' }]);
    expect(issuesOf(null)).toEqual([{ path: '$', message: 'a council record is a JSON object' }]);
  });

  it('reports every problem, not just the first', () => {
    const r = example('person.json');
    r.person.nhsNumber = '1234567890';
    r.ethnicity = 'Q';
    delete r.name.family;
    expect(issuesOf(r).map((i) => i.path)).toEqual(['$.person.nhsNumber', '$.name.family', '$.ethnicity']);
  });
});

describe('tombstones', () => {
  it('need only the envelope and the person key fields', () => {
    for (const recordType of RECORD_TYPES) {
      const r = { ...example('tombstone.json'), recordType };
      expect(parseCouncilRecord(r)).toMatchObject({ ok: true, record: { recordType, deleted: true } });
    }
  });

  it('still need the person localId and a valid NHS number', () => {
    const r = example('tombstone.json');
    delete r.person.localId;
    r.person.nhsNumber = '9990000010';
    expect(issuesOf(r).map((i) => i.path)).toEqual(['$.person.localId', '$.person.nhsNumber']);
  });

  it('refuse unknown fields', () => {
    const r = example('tombstone.json');
    r.reason = 'merged';
    expect(issuesOf(r)).toEqual([{ path: '$.reason', message: 'unknown field "reason"' }]);
  });

  it('a live record may say deleted: false', () => {
    const r = example('safeguarding.json');
    r.deleted = false;
    expect(parseCouncilRecord(r).ok).toBe(true);
  });
});

describe('the JSON Schema', () => {
  const schema = councilJsonSchema();

  it('is a draft 2020-12 schema with a definition for every record type, live and tombstone', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$id).toBe('https://joinedup.org.uk/council/v1/schema');
    const defs = schema.$defs as Record<string, { properties: { recordType: { const: string } } }>;
    const live = Object.values(defs).filter((d) => d.properties?.recordType && (d as any).properties.deleted?.const !== true);
    const dead = Object.values(defs).filter((d) => (d as any).properties?.deleted?.const === true);
    expect(live.map((d) => d.properties.recordType.const).sort()).toEqual([...RECORD_TYPES].sort());
    expect(dead.map((d) => d.properties.recordType.const).sort()).toEqual([...RECORD_TYPES].sort());
  });

  it('is cached', () => {
    expect(councilJsonSchema()).toBe(schema);
    expect(Object.isFrozen(schema)).toBe(true);
  });

  it('refuses what the shape rules refuse: unknown code, unknown field, missing localId, wrong recordType', () => {
    const badCode = example('contact.json');
    badCode.routeOfAccess = 'XX';
    const unknownField = example('person.json');
    unknownField.favouriteColour = 'blue';
    const noLocalId = example('review.json');
    delete noLocalId.person.localId;
    const wrongType = example('person.json');
    wrongType.recordType = 'patient';
    for (const r of [badCode, unknownField, noLocalId, wrongType]) expect(jsonSchemaErrors(schema, r)).not.toEqual([]);
  });
});

describe('GET /council/v1/schema', () => {
  it('answers the schema as application/schema+json, with an ETag', async () => {
    const app = express();
    app.get(COUNCIL_SCHEMA_PATH, councilSchemaHandler());
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${COUNCIL_SCHEMA_PATH}`;
      const res = await fetch(url, { headers: { accept: 'application/schema+json' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/schema+json; charset=utf-8');
      expect(await res.json()).toEqual(councilJsonSchema());
      const etag = res.headers.get('etag');
      expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
      const again = await fetch(url, { headers: { 'if-none-match': etag! } });
      expect(again.status).toBe(304);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
