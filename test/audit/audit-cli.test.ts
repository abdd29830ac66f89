import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEvent } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { appendAuditEvents } from '../../src/audit/audit-writer.ts';
import { openDatabase } from '../../src/db/open-database.ts';
import { freshSchemaUrl, runCli } from '../cli/run-cli.ts';
import { sampleRecord } from './sample-records.ts';

interface Mode {
  name: string;
  setup(dir: string): Promise<{ env: Record<string, string>; open: () => ReturnType<typeof openDatabase>; drop?: () => Promise<void> }>;
}

const modes: Mode[] = [
  {
    name: 'pglite',
    setup: async (dir) => ({ env: { DATA_DIR: join(dir, 'data') }, open: () => openDatabase({ dataDir: join(dir, 'data') }) }),
  },
];
const testUrl = process.env.TEST_DATABASE_URL;
if (testUrl) {
  modes.push({
    name: 'postgres',
    setup: async (dir) => {
      const s = await freshSchemaUrl(testUrl);
      return { env: { DATABASE_URL: s.url, DATA_DIR: join(dir, 'data') }, open: () => openDatabase({ databaseUrl: s.url, dataDir: dir, poolSize: 2 }), drop: s.drop };
    },
  });
}

for (const mode of modes) {
  describe(`joinedup audit (${mode.name})`, () => {
    let dir: string;
    let ctx: Awaited<ReturnType<Mode['setup']>>;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'joinedup-audit-cli-'));
      ctx = await mode.setup(dir);
      const db = await ctx.open();
      await db.transaction((tx) =>
        appendAuditEvents(tx, [
          // Two stored as exchanges are now (their facts), two as a record with its own event (as before 2026-11-21).
          ...[0, 1].map((i) => sampleRecord(i, { recorded: new Date(Date.UTC(2015, 0, 1 + i)) })),
          ...[2, 3].map((i) => ({ ...sampleRecord(i), recorded: new Date(Date.UTC(2015, 0, 1 + i)) })),
        ])
      );
      await db.transaction((tx) => appendAuditEvents(tx, [{ ...sampleRecord(9), recorded: new Date() }]));
      await db.close();
    });
    afterAll(async () => {
      await ctx?.drop?.();
      rmSync(dir, { recursive: true, force: true });
    });

    test('verify prints the count and head hash; archive by retention keeps it verifiable; a tampered row exits 1', async () => {
      const ok = await runCli(['audit', 'verify'], ctx.env);
      expect(ok.code).toBe(0);
      expect(ok.stdout).toMatch(/audit chain ok: 5 record\(s\) checked from genesis\nhead seq \d+ hash [0-9a-f]{64}/);

      const out = join(dir, 'old.ndjson');
      const archived = await runCli(['audit', 'archive', '--retention-days', '365', '--out', out], ctx.env);
      expect(archived.stdout).toMatch(/archived 4 record\(s\) through seq \d+/);
      expect((await runCli(['audit', 'verify-archive', out], ctx.env)).code).toBe(0);

      // The archived records as FHIR AuditEvents, as the IG API returns them; an altered copy gives none.
      const events = await runCli(['audit', 'archive-events', out], ctx.env);
      expect(events.code).toBe(0);
      const parsed = events.stdout.trim().split('\n').map((l) => JSON.parse(l) as AuditEvent);
      expect(parsed.map((e) => e.resourceType)).toEqual(['AuditEvent', 'AuditEvent', 'AuditEvent', 'AuditEvent']);
      expect(parsed.map((e) => e.entity?.find((x) => x.what?.reference?.startsWith('Patient/'))?.what?.reference)).toEqual(['Patient/pat-0', 'Patient/pat-1', 'Patient/pat-2', 'Patient/pat-3']);
      expect(readFileSync(out, 'utf8')).toContain('\\"form\\":\\"exchange-1\\"');
      expect(parsed.every((e) => /^\d+$/.test(e.id ?? '') && e.meta?.extension?.some((x) => /^[0-9a-f]{64}$/.test(x.valueString ?? '')))).toBe(true);
      const eventsFile = join(dir, 'old-events.ndjson');
      const written = await runCli(['audit', 'archive-events', out, '--out', eventsFile], ctx.env);
      expect(written.stdout).toContain(`4 AuditEvent(s) of a verified archive written to ${eventsFile}`);
      expect(readFileSync(eventsFile, 'utf8')).toBe(events.stdout);
      expect((await runCli(['audit', 'archive-events', out, '--out', eventsFile], ctx.env)).stderr).toContain('already exists');
      const altered = join(dir, 'altered.ndjson');
      writeFileSync(altered, readFileSync(out, 'utf8').replace('pat-2', 'pat-7'));
      const refused = await runCli(['audit', 'archive-events', altered], ctx.env);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toMatch(/BROKEN at seq \d+: hash does not match/);
      expect(refused.stdout).not.toContain('AuditEvent');
      const after = await runCli(['audit', 'verify', '--json'], ctx.env);
      expect(JSON.parse(after.stdout)).toMatchObject({ ok: true, checked: 1 });
      const independent = await runCli(['audit', 'verify', '--independent', '--json'], ctx.env);
      expect(JSON.parse(independent.stdout)).toEqual(JSON.parse(after.stdout));

      const db = await ctx.open();
      await db.transaction(async (tx) => {
        await tx.query('ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only');
        await tx.query("UPDATE audit_event SET org_ods = 'X99999'");
        await tx.query('ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only');
      });
      const seq = Number((await db.query<{ s: number }>('SELECT max(seq) AS s FROM audit_event')).rows[0]?.s);
      await db.close();
      const broken = await runCli(['audit', 'verify'], ctx.env);
      expect(broken.code).toBe(1);
      expect(broken.stdout).toContain(`audit chain BROKEN at seq ${seq}: hash does not match`);
      const brokenToo = await runCli(['audit', 'verify', '--independent'], ctx.env);
      expect(brokenToo.code).toBe(1);
      expect(brokenToo.stdout).toContain(`audit chain (independent check) BROKEN at seq ${seq}: hash does not match`);
    }, 180_000); // eight CLI processes, each opening the database
  });
}
