/**
 * Realistic resources for the fast path's tests and benchmark: everything the
 * council import maps from the documented examples, the mapping golden files'
 * expected outputs and the synthetic caseload, plus the validation fixtures.
 * All synthetic (999-range NHS numbers, invented names and codes).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Resource } from '@medplum/fhirtypes';
import { caseloadLine } from '../../../../bench/synthetic-council.ts';
import { mapRecord } from '../../../mapping/map-record.ts';
import { socialCarePlan, ukCorePatient } from '../test-fixtures.ts';

const ROOT = new URL('../../../../', import.meta.url);
const CTX = { councilOds: 'X9C01', receivedAt: '2026-11-02T10:00:00Z' };

/** The resources (Provenance included) one council record maps to; [] when the record is one the mapping rejects. */
export function mapCouncilRecord(record: Record<string, unknown>): Resource[] {
  try {
    const result = mapRecord(record, String(record.recordType), CTX, { validator: false });
    return [...result.resources, result.provenance];
  } catch {
    return [];
  }
}

function readJsonDir(relative: string, suffix: string): unknown[] {
  const dir = fileURLToPath(new URL(relative, ROOT));
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith(suffix))
    .sort()
    .map((n) => JSON.parse(readFileSync(`${dir}/${n}`, 'utf8')) as unknown);
}

/** `syntheticLines` caseload lines (both mixes) are mapped as well as the fixed examples. */
export function realisticResources(syntheticLines = 60): Resource[] {
  const out: Resource[] = [ukCorePatient(1), ukCorePatient(7), socialCarePlan(1)];
  for (const record of readJsonDir('docs/examples/council/', '.json')) {
    out.push(...mapCouncilRecord(record as Record<string, unknown>));
  }
  for (const expected of readJsonDir('test/mapping/golden/', '.expected.json')) {
    const e = expected as { resources?: Resource[]; provenance?: Resource };
    out.push(...(e.resources ?? []), ...(e.provenance ? [e.provenance] : []));
  }
  for (let i = 0; i < syntheticLines; i++) {
    out.push(...mapCouncilRecord(caseloadLine(i, i % 2 ? 'case' : 'dense')));
  }
  return out;
}
