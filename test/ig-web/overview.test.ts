import { beforeAll, describe, expect, it } from 'vitest';
import { ChainMonitor } from '../../src/ig-web/chain-status.ts';
import { backends } from '../support/backends.ts';
import { suiteServer } from '../support/test-server.ts';
import { makeEvents, P } from '../ig/ig-setup.ts';
import { CookieJar, formOf } from './cookie-jar.ts';

/**
 * Issue #8 item 1, the overview: exchanges per day (table and SVG chart) and
 * the audit-chain integrity, checked incrementally between full walks.
 */
for (const backend of backends()) {
  describe(`IG web overview (${backend.name})`, () => {
    const s = suiteServer(backend, { DEMO_DATA: 'on' });
    beforeAll(async () => {
      await makeEvents(s);
    });

    const tamper = (sql: string, params: unknown[]) =>
      s.db.transaction(async (tx) => {
        await tx.query('ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only');
        await tx.query(sql, params);
        await tx.query('ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only');
      });
    const seqs = async () => (await s.db.query<{ seq: number | string }>('SELECT seq FROM audit_event ORDER BY seq')).rows.map((r) => Number(r.seq));
    const readP = async () => expect((await s.request('GET', `Patient/${P}`)).status).toBe(200);

    it('shows exchanges per day for the last 30 days: a chart with a text alternative, and the numbers as a table', async () => {
      const jar = new CookieJar();
      const page = await jar.fetch(`${s.baseUrl}/ig/sign-in`);
      const demo = /action="\/ig\/sign-in\/demo">.*?name="csrf" value="([^"]+)"/.exec(page.text)![1]!;
      expect((await jar.fetch(`${s.baseUrl}/ig/sign-in/demo`, { form: { csrf: demo } })).status).toBe(303);
      const overview = await jar.fetch(`${s.baseUrl}/ig`);
      expect(overview.status).toBe(200);
      const t = overview.text;
      const today = new Date().toISOString().slice(0, 10);
      const n = (await s.db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_event')).rows[0]!.n;
      expect(t).toMatch(/<svg viewBox="0 0 600 180" role="img" aria-labelledby="chart-title chart-desc"/);
      expect(t).toContain(`<desc id="chart-desc">${n} exchanges from `);
      expect(t).toContain(`to ${today}`);
      const rows = [...t.matchAll(/<tr><td>(\d{4}-\d\d-\d\d)<\/td><td>(\d+)<\/td><td>(\d+)<\/td><\/tr>/g)];
      expect(rows).toHaveLength(30);
      expect(rows[29]![1]).toBe(today);
      expect(Number(rows[29]![2])).toBe(n);
      // The setup's stranger was refused once.
      expect(Number(rows[29]![3])).toBe(1);
      expect(rows.slice(0, 29).every((r) => r[2] === '0')).toBe(true);
      // No script anywhere, the chart included.
      expect(t).not.toMatch(/<script|javascript:|\son\w+=/i);
      expect(t).toContain('Intact:');
      expect(formOf(overview).action).toBe(`${s.baseUrl}/ig/sign-out`);
    });

    it('checks only new records between full walks, and finds a rewrite of the last one at once', async () => {
      let now = new Date('2026-03-01T09:00:00Z');
      const chain = new ChainMonitor(s.db, () => now);
      const first = await chain.status();
      const n0 = (await seqs()).length;
      expect(first).toMatchObject({ state: 'intact', checked: n0 });
      expect(first.fullAt).toEqual(now);

      await readP();
      now = new Date('2026-03-01T09:05:00Z');
      const second = await chain.status();
      expect(second).toMatchObject({ state: 'intact', checked: n0 + 1 });
      expect(second.checkedAt).toEqual(now);
      // No full walk: the new record was linked to the last one verified.
      expect(second.fullAt).toEqual(new Date('2026-03-01T09:00:00Z'));

      const last = (await seqs()).at(-1)!;
      await tamper("UPDATE audit_event SET outcome = 'deny' WHERE seq = $1", [last]);
      try {
        const broken = await chain.status();
        expect(broken).toMatchObject({ state: 'broken', firstBroken: { seq: last } });
      } finally {
        await tamper("UPDATE audit_event SET outcome = 'permit' WHERE seq = $1", [last]);
      }
      // Once whole again, the next view's full walk says so.
      expect(await chain.status()).toMatchObject({ state: 'intact' });
    });

    it('finds a rewrite of an older record at the next full walk (at most 15 minutes on)', async () => {
      let now = new Date('2026-03-01T10:00:00Z');
      const chain = new ChainMonitor(s.db, () => now);
      expect((await chain.status()).state).toBe('intact');
      const target = (await seqs())[1]!;
      const original = (await s.db.query<{ org_ods: string | null }>('SELECT org_ods FROM audit_event WHERE seq = $1', [target])).rows[0]!.org_ods;
      await tamper("UPDATE audit_event SET org_ods = 'X99999' WHERE seq = $1", [target]);
      try {
        await readP();
        now = new Date('2026-03-01T10:10:00Z');
        expect((await chain.status()).state).toBe('intact');
        now = new Date('2026-03-01T10:16:00Z');
        expect(await chain.status()).toMatchObject({ state: 'broken', firstBroken: { seq: target } });
      } finally {
        await tamper('UPDATE audit_event SET org_ods = $2 WHERE seq = $1', [target, original]);
      }
      expect((await chain.status()).state).toBe('intact');
    });

    it('never keeps a view waiting for a full walk: it says the check is under way', async () => {
      const chain = new ChainMonitor(s.db);
      const quick = await chain.status(0);
      expect(quick.state).toBe('checking');
      // The walk carries on; a later view has its result.
      await new Promise((r) => setTimeout(r, 500));
      expect(await chain.status(5_000)).toMatchObject({ state: 'intact' });
    });
  });
}
