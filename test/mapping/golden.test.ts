import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MappingError } from '../../src/mapping/errors.ts';
import { mapRecord } from '../../src/mapping/map-record.ts';

/**
 * Golden files: test/mapping/golden/<case>.input.json → <case>.expected.json.
 * The input holds the record and the frozen context (format, recordType,
 * councilOds, receivedAt); the expected file is the whole mapRecord result, or
 * the MappingError (kind and issues) for a refused record. Ids are
 * deterministic, so outputs are stable. UPDATE_GOLDEN=1 rewrites the expected
 * files (review the diff!).
 */
const GOLDEN_DIR = fileURLToPath(new URL('./golden/', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';

interface GoldenInput {
  description: string;
  format: string;
  recordType: string;
  councilOds: string;
  receivedAt: string;
  record: unknown;
}

function run(input: GoldenInput): unknown {
  try {
    return mapRecord(input.record, input.recordType, { councilOds: input.councilOds, receivedAt: input.receivedAt, format: input.format });
  } catch (err) {
    if (err instanceof MappingError) {
      return { error: { kind: err.kind, issues: err.issues } };
    }
    throw err;
  }
}

const cases = readdirSync(GOLDEN_DIR)
  .filter((f) => f.endsWith('.input.json'))
  .map((f) => f.slice(0, -'.input.json'.length))
  .sort();

describe('golden mappings', () => {
  it('has the cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
  });

  for (const name of cases) {
    it(name, () => {
      const input = JSON.parse(readFileSync(join(GOLDEN_DIR, `${name}.input.json`), 'utf8')) as GoldenInput;
      const actual = JSON.parse(JSON.stringify(run(input))) as unknown;
      const expectedFile = join(GOLDEN_DIR, `${name}.expected.json`);
      if (UPDATE) {
        writeFileSync(expectedFile, JSON.stringify(actual, null, 2) + '\n');
      }
      expect(actual).toEqual(JSON.parse(readFileSync(expectedFile, 'utf8')));
      // Mapping twice gives the same output (ids and all): re-runs are idempotent.
      expect(JSON.parse(JSON.stringify(run(input)))).toEqual(actual);
    });
  }
});

describe('the council format examples (docs/examples/council/)', () => {
  const examplesDir = fileURLToPath(new URL('../../docs/examples/council/', import.meta.url));
  let files: string[] = [];
  try {
    files = readdirSync(examplesDir).filter((f) => f.endsWith('.json'));
  } catch {
    // No examples yet.
  }
  for (const file of files) {
    const record = JSON.parse(readFileSync(join(examplesDir, file), 'utf8')) as { recordType?: string; deleted?: boolean };
    const mapped = typeof record.recordType === 'string' && record.deleted !== true && ['person', 'related-person', 'safeguarding', 'contact', 'assessment', 'service', 'review'].includes(record.recordType);
    it.runIf(mapped)(`maps ${file} to valid FHIR`, () => {
      const result = mapRecord(record, record.recordType!, { councilOds: 'X9C01', receivedAt: '2026-11-20T10:00:00Z' });
      expect(result.resources.length).toBeGreaterThan(0);
    });
  }
});
