import type { CarePlan } from '@medplum/fhirtypes';
import { describe, expect, test } from 'vitest';
import { backends } from '../support/backends.ts';
import { testCarePlan, testPatient } from '../support/fixtures.ts';
import { suiteServer } from '../support/test-server.ts';
import type { TestResponse } from '../support/test-server.ts';

/**
 * Issue #9: optimistic locking under contention. WRITERS clients each hold
 * one change to the same CarePlan. Every round, each writer still waiting
 * reads the current version, applies its own change (read-modify-write) and
 * sends it with If-Match on the version it read, all at once. Exactly one
 * write may win each version; the others must get 412 and try again on the
 * next round. At the end every change is in the record exactly once.
 */
const WRITERS = 50;

describe.each(backends())('If-Match under concurrent updates ($name)', (backend) => {
  const s = suiteServer(backend);

  test(
    `${WRITERS} concurrent writers on one CarePlan: one winner per version, every change kept once`,
    async () => {
      const patient = await s.request('POST', 'Patient', testPatient(901));
      expect(patient.status).toBe(201);
      const created = await s.request('POST', 'CarePlan', testCarePlan(patient.body.id));
      expect(created.status).toBe(201);
      const id: string = created.body.id;
      const change = (writer: number): string => `change from writer ${writer}`;

      let waiting = Array.from({ length: WRITERS }, (_, i) => i);
      const winners: number[] = [];
      const statuses = new Map<number, number>();
      for (let round = 0; waiting.length > 0; round++) {
        expect(round, 'rounds needed: more than one per writer means a version had no winner').toBeLessThan(WRITERS);
        // Everyone reads before anyone writes, so every writer of the round holds the same version.
        const reads = await Promise.all(waiting.map(() => s.request('GET', `CarePlan/${id}`)));
        const versions = new Set(reads.map((r) => r.headers.get('etag')));
        expect(versions.size).toBe(1);
        const etag = reads[0]?.headers.get('etag');
        expect(etag).toBe(`W/"${round + 1}"`);

        const writes: TestResponse[] = await Promise.all(
          waiting.map((writer, i) => {
            const current = reads[i]?.body as CarePlan;
            const next: CarePlan = { ...current, note: [...(current.note ?? []), { text: change(writer) }] };
            return s.request('PUT', `CarePlan/${id}`, next, { 'if-match': etag ?? '' });
          })
        );
        for (const w of writes) statuses.set(w.status, (statuses.get(w.status) ?? 0) + 1);

        const won = waiting.filter((_, i) => writes[i]?.status === 200);
        expect(won, `round ${round}: exactly one writer wins version ${round + 1}`).toHaveLength(1);
        for (const [i, w] of writes.entries()) {
          if (w.status === 200) {
            expect(w.body.meta.versionId).toBe(String(round + 2));
            expect(w.headers.get('etag')).toBe(`W/"${round + 2}"`);
            continue;
          }
          expect(w.status, `writer ${waiting[i]}: ${w.text.slice(0, 300)}`).toBe(412);
          expect(w.body.resourceType).toBe('OperationOutcome');
          expect(w.body.issue[0].expression).toEqual(['If-Match']);
        }
        winners.push(...won);
        waiting = waiting.filter((writer) => !won.includes(writer));
      }

      // 1 + 2 + ... + 50 writes: one 200 per version, everything else a 412; nothing else (no 409, no 500).
      expect(Object.fromEntries(statuses)).toEqual({ 200: WRITERS, 412: (WRITERS * (WRITERS - 1)) / 2 });
      expect(new Set(winners).size).toBe(WRITERS);

      const final = await s.request('GET', `CarePlan/${id}`);
      expect(final.body.meta.versionId).toBe(String(WRITERS + 1));
      const notes: string[] = (final.body.note ?? []).map((n: { text: string }) => n.text);
      // No lost update: each change once, in the order the versions were won.
      expect(notes).toEqual(winners.map(change));

      const history = await s.request('GET', `CarePlan/${id}/_history?_count=100`);
      expect(history.status).toBe(200);
      const versions: string[] = history.body.entry.map((e: { resource: CarePlan }) => e.resource.meta?.versionId);
      expect(versions).toHaveLength(WRITERS + 1);
      expect(new Set(versions)).toEqual(new Set(Array.from({ length: WRITERS + 1 }, (_, i) => String(i + 1))));
      // Each version adds exactly the one change its winner made to the version before.
      const byVersion = new Map(history.body.entry.map((e: { resource: CarePlan }) => [Number(e.resource.meta?.versionId), e.resource]));
      for (let v = 2; v <= WRITERS + 1; v++) {
        const texts = ((byVersion.get(v) as CarePlan).note ?? []).map((n) => n.text);
        expect(texts).toEqual(winners.slice(0, v - 1).map(change));
      }
    },
    240_000
  );
});
