import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { makeTestNhsNumber } from '../../src/fhir/validation/nhs-number.ts';
import { addFromJson, collectTestPersonalData, describeProblems, emptyPersonalData, mask, scanLine, scanLogDir } from '../support/log-scan.ts';

/**
 * The end-of-run log scan (test/support/global-setup.ts) must catch what it
 * is for, or it passes silently forever: planted NHS numbers, names,
 * addresses and postcodes are found; the gateway's ordinary lines are not.
 */
const data = emptyPersonalData();
addFromJson(data, {
  resourceType: 'Patient',
  name: [{ family: 'Plantedfamily-Testcase', given: ['Hermione', 'Jo'] }],
  address: [{ line: ['12 Planted Lane'], city: 'Testborough', postalCode: 'ZZ99 7PL' }],
  telecom: [{ system: 'phone', value: '01632 960777' }],
});
// The council CSV format's own field names.
addFromJson(data, { family_name: 'Csvfamily', given_name: 'Ngozi Ada', postcode: 'zz99 8cs' });
data.namePatterns.push(/(?<![\p{L}\p{N}])Testperson\d+(?![\p{L}\p{N}])/u);

const nhs = makeTestNhsNumber(4242);
const ordinary = [
  '{"level":30,"time":1763722123456,"service":"joinedup","requestId":"9f1c2d3e-4b5a-4c6d-8e7f-999123456789","method":"GET","route":"/fhir/Patient/:id","status":200,"ms":3.999123,"msg":"request"}',
  '{"level":30,"time":1763722123999,"service":"joinedup","requestId":"a-1","clientId":"test-client","purposeOfUse":"TREAT","tokenId":"c0ffee","msg":"access token issued"}',
  '{"level":50,"time":1763722124000,"service":"joinedup","requestId":"a-2","error":"DatabaseError","code":"40001","msg":"database error"}',
  // Words that merely contain a planted name are not it.
  '{"level":30,"requestId":"a-3","summary":"Joint care adaptive plan for the Hermiones club","msg":"consent consult"}',
];

describe('log scan', () => {
  test('finds a planted NHS number, spaced or not, and masks it', () => {
    for (const line of [`{"msg":"x","nhs":"${nhs}"}`, `patient ${nhs.slice(0, 3)} ${nhs.slice(3, 6)} ${nhs.slice(6)} read`, `id=${nhs}&x`]) {
      const found = scanLine(line, data);
      expect(found.map((f) => f.kind)).toEqual(['nhs-number']);
      expect(found[0]?.masked).not.toContain(nhs.slice(3));
      expect(found[0]?.masked.startsWith('999')).toBe(true);
    }
  });

  test('finds planted names (family, given, CSV names, generated fixture names), whole words only', () => {
    expect(scanLine('{"msg":"x","who":"Plantedfamily-Testcase"}', data).map((f) => f.kind)).toEqual(['name']);
    expect(scanLine('Hello Hermione', data).map((f) => f.kind)).toEqual(['name']);
    expect(scanLine('"family_name":"Csvfamily"', data).map((f) => f.kind)).toEqual(['name']);
    expect(scanLine('Ngozi', data).map((f) => f.kind)).toEqual(['name']);
    expect(scanLine('patient Testperson901 updated', data).map((f) => f.kind)).toEqual(['name']);
    // Too short to look for alone ("Jo" is in "Joint").
    expect(scanLine('Jo', data)).toEqual([]);
    expect(scanLine('Hermiones', data)).toEqual([]);
  });

  test('finds planted address lines, postcodes (any case, with or without the space) and phone numbers', () => {
    expect(scanLine('lives at 12 planted lane', data).map((f) => f.kind)).toEqual(['address']);
    expect(scanLine('town Testborough', data).map((f) => f.kind)).toEqual(['address']);
    for (const pc of ['ZZ99 7PL', 'zz997pl', 'ZZ997PL', 'zz99 8CS']) {
      expect(scanLine(`"postcode":"${pc}"`, data).map((f) => f.kind)).toEqual(['postcode']);
    }
    expect(scanLine('call 01632960777', data).map((f) => f.kind)).toEqual(['phone']);
  });

  test('passes the gateway\'s ordinary lines: request ids, timestamps and durations are not NHS numbers', () => {
    for (const line of ordinary) expect(scanLine(line, data)).toEqual([]);
  });

  test('masks every value to its first character (first three digits of a number)', () => {
    expect(mask('Hermione')).toBe('H*******');
    expect(mask('9991234567')).toBe('999*******');
  });

  describe('over a log directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'joinedup-log-scan-test-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    test('reports file and line of each finding without the value, and lines about a request that lack a requestId', () => {
      writeFileSync(join(dir, 'clean.ndjson'), ordinary.join('\n') + '\n');
      writeFileSync(
        join(dir, 'leaky.ndjson'),
        [
          ordinary[0],
          `{"level":30,"requestId":"r-1","msg":"oops","nhsNumber":"${nhs}"}`,
          '{"level":30,"requestId":"r-2","msg":"oops","note":"Hermione at ZZ99 7PL"}',
          '{"level":30,"method":"GET","route":"/fhir/Patient","status":200,"msg":"request"}',
          '{"level":40,"msg":"not ready: database unreachable"}',
        ].join('\n')
      );
      // Other files in the directory (the harness's markers) are not logs.
      writeFileSync(join(dir, 'gateway-1.started'), `${nhs}\n`);
      const result = scanLogDir(dir, data);
      expect(result.files).toBe(2);
      expect(result.lines).toBe(ordinary.length + 5);
      expect(result.findings).toEqual([
        { file: 'leaky.ndjson', line: 2, kind: 'nhs-number', masked: '999*******' },
        { file: 'leaky.ndjson', line: 3, kind: 'name', masked: 'H*******' },
        { file: 'leaky.ndjson', line: 3, kind: 'postcode', masked: 'Z*******' },
      ]);
      expect(result.missingRequestId).toEqual([{ file: 'leaky.ndjson', line: 4, msg: 'request' }]);
      expect(result.withoutRequestId.get('not ready: database unreachable')).toBe(1);
      const report = describeProblems(result) ?? '';
      expect(report).toContain('leaky.ndjson:2: nhs-number 999*******');
      expect(report).not.toContain(nhs);
      expect(report).not.toContain('Hermione');
      expect(report).not.toContain('7PL');
    });

    test('a clean directory has nothing to report', () => {
      rmSync(join(dir, 'leaky.ndjson'));
      expect(describeProblems(scanLogDir(dir, data))).toBeUndefined();
    });
  });

  test('collects the repository\'s test data: golden council records, fixtures and test code', () => {
    const collected = collectTestPersonalData(['test/mapping/golden', 'docs/examples', 'test/support']);
    // From docs/examples/council/person.json and the golden CSV person.
    expect(collected.names).toContain('Pemberton-Testcase');
    expect(collected.names).toContain('Arthur');
    expect(collected.names).toContain('Okafor-Testcase');
    expect(collected.postcodes).toContain('ZZ993CZ');
    expect(collected.phones).toContain('01632 960123');
    // test/support/fixtures.ts
    expect(collected.names).toContain('Alex');
  });
});
