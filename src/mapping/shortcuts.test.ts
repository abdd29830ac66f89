import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MappingError } from './errors.ts';
import { mapRecord } from './map-record.ts';
import type { MapOptions } from './map-record.ts';
import { DEFAULT_MAPPINGS_DIR, MappingRegistry, getMappingRegistry } from './mapping-registry.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

interface Case {
  name: string;
  record: unknown;
  recordType: string;
  format?: string;
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const f of readdirSync(`${root}docs/examples/council`).filter((n) => n.endsWith('.json'))) {
    const record = JSON.parse(readFileSync(`${root}docs/examples/council/${f}`, 'utf8')) as { recordType: string };
    out.push({ name: f, record, recordType: record.recordType });
  }
  for (const f of readdirSync(`${root}test/mapping/golden`).filter((n) => n.endsWith('.input.json'))) {
    const input = JSON.parse(readFileSync(`${root}test/mapping/golden/${f}`, 'utf8')) as { record: unknown; recordType: string; format: string };
    out.push({ name: f, record: input.record, recordType: input.recordType, format: input.format });
  }
  return out;
}

/** The whole result or refusal, as bytes: key order included. */
function bytes(c: Case, options: MapOptions): string {
  try {
    return JSON.stringify(mapRecord(c.record, c.recordType, { councilOds: 'X9C01', receivedAt: '2026-11-21T09:00:00Z', ...(c.format ? { format: c.format } : {}) }, options));
  } catch (err) {
    if (err instanceof MappingError) return JSON.stringify({ kind: err.kind, issues: err.issues });
    throw err;
  }
}

describe('expression shortcuts and the id cache', () => {
  it('change no byte of any mapped example or golden record, nor of any refusal', () => {
    const before: MapOptions = { registry: MappingRegistry.load(DEFAULT_MAPPINGS_DIR, { shortcuts: 'paths' }), validator: false, memoIds: false };
    const now: MapOptions = { registry: getMappingRegistry(), validator: false };
    const all = cases();
    expect(all.length).toBeGreaterThan(20);
    for (const c of all) {
      expect(bytes(c, now), c.name).toBe(bytes(c, before));
    }
  });
});
