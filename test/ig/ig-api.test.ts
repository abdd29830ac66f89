import { beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../support/backends.ts';
import { suiteServer } from '../support/test-server.ts';
import { ig, igToken, JUSTIFICATION, makeEvents, P, P_NHS, Q, Q_NHS } from './ig-setup.ts';

/** Issue #6 item 4: the IG API for IG clients, and nobody else. */
describe.each(backends())('IG API ($name)', (backend) => {
  const s = suiteServer(backend);
  let token = '';
  const search = async (qs: string) => {
    const r = await ig(s, token, 'GET', `/audit-events?${qs}`);
    expect(r.status, r.text).toBe(200);
    return r.body.entry.map((e: { resource: any }) => e.resource) as any[];
  };

  beforeAll(async () => {
    await makeEvents(s);
    token = await igToken(s);
  });

  it('refuses everyone but information governance with system/ig.read, and records the attempt', async () => {
    expect((await ig(s, '', 'GET', '/audit-events')).status).toBe(401);
    const gp = await igToken(s, { kind: 'gp-practice', ods: 'X99001', scopes: 'system/*.cruds system/ig.read' });
    const council = await igToken(s, { kind: 'local-authority', ods: 'X9C01', scopes: 'system/ig.read' });
    const noScope = await igToken(s, { scopes: 'system/AuditEvent.rs' });
    const paths = ['/audit-events', '/audit-events.csv', `/patients/${P}/access-report`, '/reviews', '/audit-chain/verify', '/audit-events/1'];
    for (const t of [gp, council, noScope]) {
      for (const path of paths) {
        const r = await ig(s, t, 'GET', path);
        expect(r.status, path).toBe(403);
        expect(r.body.resourceType).toBe('OperationOutcome');
      }
      expect((await ig(s, t, 'POST', '/reviews/1', { outcome: 'appropriate' })).status).toBe(403);
      expect((await ig(s, t, 'POST', '/access-report', { nhsNumber: P_NHS })).status).toBe(403);
    }
    const denied = await s.db.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_event WHERE outcome = 'deny' AND org_ods = 'X9C01' AND patient_id IS NULL");
    expect(denied.rows[0]!.n).toBeGreaterThanOrEqual(paths.length + 2);
  });

  it('searches by each filter, newest first, with the record hash in meta', async () => {
    const all = await search(`patient=${P}`);
    expect(all.length).toBeGreaterThanOrEqual(3);
    expect(all.every((e) => e.entity.some((x: any) => x.what?.reference === `Patient/${P}`))).toBe(true);
    const seqs = all.map((e) => Number(e.id));
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    expect(all[0].meta.extension[0].valueString).toMatch(/^[0-9a-f]{64}$/);

    expect((await search('organisation=X99001')).every((e) => e.agent.some((a: any) => a.who?.identifier?.value === 'X99001'))).toBe(true);
    expect((await search('user=gp-user')).length).toBeGreaterThanOrEqual(2);
    const denied = await search(`outcome=deny&patient=${P}`);
    expect(denied.map((e) => e.outcome)).toEqual(['4']);
    const btg = await search('purpose=BTG');
    expect(btg).toHaveLength(1);
    expect((await search('override=break-glass')).map((e) => e.id)).toEqual(btg.map((e) => e.id));
    expect((await search('lawful-basis=art6-1-d')).map((e) => e.id)).toEqual(btg.map((e) => e.id));
    expect((await search('review=pending')).map((e) => e.id)).toEqual(btg.map((e) => e.id));
    expect(await search('review=reviewed')).toEqual([]);
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    expect((await search(`from=${hourAgo}&patient=${P}`)).length).toBe(all.length);
    expect(await search(`to=2020-01-01&patient=${P}`)).toEqual([]);
    expect(await search(`from=2999-01-01`)).toEqual([]);
  });

  it('pages by cursor without overlap', async () => {
    const all = (await search('_count=1000')).map((e) => e.id);
    const seen: string[] = [];
    let url: string | undefined = `${s.baseUrl}/ig/v1/audit-events?_count=3`;
    while (url) {
      const r = await s.request('GET', url, undefined, { authorization: `Bearer ${token}` });
      expect(r.status).toBe(200);
      seen.push(...r.body.entry.map((e: any) => e.resource.id));
      url = r.body.link.find((l: any) => l.relation === 'next')?.url;
    }
    // The first search was itself audited (one newer record); the pages hold everything older, in order, once.
    expect(seen.filter((id) => all.includes(id))).toEqual(all);
    expect(seen).toHaveLength(all.length + 1);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('refuses bad parameters with the parameter named', async () => {
    for (const [qs, name] of [
      ['outcome=maybe', 'outcome'],
      ['from=yesterday', 'from'],
      ['to=2026-02-31', 'to'],
      ['_count=0', '_count'],
      ['_cursor=abc', '_cursor'],
      ['organization=X99001', 'organization'],
      ['review=later', 'review'],
      ['lawful-basis=art6-1-z', 'lawful-basis'],
      ['patient=a&patient=b', 'patient'],
    ]) {
      const r = await ig(s, token, 'GET', `/audit-events?${qs}`);
      expect(r.status, qs).toBe(400);
      expect(r.body.issue[0].expression).toEqual([name]);
    }
  });

  it('exports CSV in the order and with the records of the search, formula cells neutralised', async () => {
    const found = await search(`patient=${P}&_count=1000`);
    const before = await s.db.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_event WHERE org_ods = 'X9G01'");
    const r = await ig(s, token, 'GET', `/audit-events.csv?patient=${P}`);
    expect(r.status).toBe(200);
    const after = await s.db.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_event WHERE org_ods = 'X9G01'");
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n + 1);
    expect(r.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = r.text.trim().split('\r\n');
    expect(lines[0]).toBe('seq,recorded,patient,organisation,client,user,purpose,outcome,action,interaction,lawful basis,override,review state,rules fired,agreement,consent');
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(found.map((e) => e.id));
    expect(lines.slice(1).every((l) => l.split(',')[2] === P)).toBe(true);
    expect(r.text).toContain('break-glass');
    const bad = await ig(s, token, 'GET', '/audit-events.csv?to=2026-02-31');
    expect(bad.status).toBe(400);
    expect(bad.body.issue[0].expression).toEqual(['to']);
  });

  it("reports a person's accesses as printable HTML, escaped, with nobody else's data", async () => {
    const r = await ig(s, token, 'GET', `/patients/${P}/access-report`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    expect(r.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = r.text;
    expect(html).toContain('X99001');
    expect(html).toContain('X99002');
    expect(html).toContain('@media print');
    expect(html).toContain('break-glass');
    expect(html).toContain('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;');
    expect(html).not.toContain('<script');
    expect(html).not.toMatch(/https?:\/\//);
    for (const other of [Q, Q_NHS, 'ig-cp2', P_NHS]) expect(html).not.toContain(other);
    expect(html).not.toContain(JUSTIFICATION);

    const byNhs = await ig(s, token, 'POST', '/access-report', { nhsNumber: P_NHS }, { 'content-type': 'application/json' });
    expect(byNhs.status).toBe(200);
    expect(byNhs.text.replace(/Produced [^<]*/, '')).toBe(html.replace(/Produced [^<]*/, ''));
    const form = await ig(s, token, 'POST', '/access-report', `nhsNumber=${P_NHS}&format=csv`, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(200);
    expect(form.text.split('\r\n')[0]).toMatch(/^recorded,organisation,user/);
    expect(form.text).not.toContain(Q);
    expect((await ig(s, token, 'POST', '/access-report', { nhsNumber: '9999999999' })).status).toBe(404);
    expect((await ig(s, token, 'POST', '/access-report', { nhsNumber: 'abc' })).status).toBe(400);
    expect((await ig(s, token, 'GET', '/patients/nobody-here/access-report')).status).toBe(404);
    const csv = await ig(s, token, 'GET', `/patients/${P}/access-report?format=csv`);
    expect(csv.text).toBe(form.text);
    // The lookup's NHS number never reaches the audit trail.
    const leaked = await s.db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_event WHERE content LIKE $1', [`%${P_NHS}%`]);
    expect(leaked.rows[0]!.n).toBe(0);
  });

  it('keeps a review queue of overrides; a review is an audit record, once only', async () => {
    const pending = await ig(s, token, 'GET', '/reviews?state=pending');
    expect(pending.status).toBe(200);
    const [override] = pending.body.entry.map((e: any) => e.resource);
    expect(pending.body.entry).toHaveLength(1);
    expect(override.subtype[0].code).toBe('read');

    const bad = await ig(s, token, 'POST', `/reviews/${override.id}`, { outcome: 'fine' });
    expect(bad.status).toBe(400);
    expect(bad.body.issue[0].expression).toEqual(['outcome']);
    expect((await ig(s, token, 'POST', `/reviews/${override.id}`, { outcome: 'appropriate', note: 'x'.repeat(2001) })).status).toBe(400);
    expect((await ig(s, token, 'POST', '/reviews/999999', { outcome: 'appropriate' })).status).toBe(404);
    const plain = (await search(`organisation=X99001&_count=1`))[0];
    expect((await ig(s, token, 'POST', `/reviews/${plain.id}`, { outcome: 'appropriate' })).status).toBe(409);

    const count = async () => Number((await s.db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_event')).rows[0]!.n);
    const before = await count();
    const done = await ig(s, token, 'POST', `/reviews/${override.id}`, { outcome: 'appropriate', note: 'A&E attendance confirmed' });
    expect(done.status, done.text).toBe(201);
    // Exactly one record for the exchange: the review itself.
    expect(await count()).toBe(before + 1);
    expect(done.body.resourceType).toBe('AuditEvent');
    // Named by the reviewing request's id, as an exchange's record is.
    expect(done.body.entity.find((e: any) => e.type?.code === 'XrequestId')?.what.identifier.value).toBe(done.headers.get('x-request-id'));
    const row = await s.db.query<{ reviews_seq: string; review_state: string; patient_id: string }>('SELECT reviews_seq, review_state, patient_id FROM audit_event WHERE seq = $1', [Number(done.body.id)]);
    expect(row.rows[0]).toMatchObject({ review_state: 'reviewed', patient_id: P });
    expect(Number(row.rows[0]!.reviews_seq)).toBe(Number(override.id));
    expect((await ig(s, token, 'POST', `/reviews/${override.id}`, { outcome: 'inappropriate' })).status).toBe(409);

    expect((await ig(s, token, 'GET', '/reviews?state=pending')).body.entry).toEqual([]);
    expect((await ig(s, token, 'GET', '/reviews?state=reviewed')).body.entry.map((e: any) => e.resource.id)).toEqual([override.id]);
    expect((await search('review=reviewed')).map((e) => e.id)).toEqual([override.id]);
    const report = (await ig(s, token, 'GET', `/patients/${P}/access-report`)).text;
    expect(report).toContain('appropriate');
    expect(report).not.toContain('A&amp;E attendance confirmed');
  });

  it('verifies the chain and finds the first altered record', async () => {
    const ok = await ig(s, token, 'GET', '/audit-chain/verify');
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ ok: true });
    expect(ok.body.checked).toBeGreaterThan(10);
    expect(ok.body.head.hash).toMatch(/^[0-9a-f]{64}$/);
    const target = Number((await search(`patient=${P}&outcome=deny`))[0].id);
    const tamper = (sql: string) =>
      s.db.transaction(async (tx) => {
        await tx.query('ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only');
        await tx.query(sql, [target]);
        await tx.query('ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only');
      });
    await tamper(`UPDATE audit_event SET outcome = 'permit' WHERE seq = $1`);
    try {
      const broken = await ig(s, token, 'GET', '/audit-chain/verify');
      expect(broken.body).toMatchObject({ ok: false, firstBroken: { seq: target } });
    } finally {
      await tamper(`UPDATE audit_event SET outcome = 'deny' WHERE seq = $1`);
    }
    expect((await ig(s, token, 'GET', '/audit-chain/verify')).body.ok).toBe(true);

    // Content altered into facts the renderer cannot show: a clear answer naming the record, not a bare 500.
    const original = (await s.db.query<{ content: string }>('SELECT content FROM audit_event WHERE seq = $1', [target])).rows[0]!.content;
    const damaged = JSON.stringify({ ...JSON.parse(original), request: undefined, interaction: 'peek' });
    const setContent = (content: string) =>
      s.db.transaction(async (tx) => {
        await tx.query('ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only');
        await tx.query('UPDATE audit_event SET content = $2 WHERE seq = $1', [target, content]);
        await tx.query('ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only');
      });
    await setContent(damaged);
    try {
      for (const path of [`/audit-events/${target}`, `/audit-events?patient=${P}&outcome=deny`]) {
        const r = await ig(s, token, 'GET', path);
        expect(r.status, path).toBe(500);
        expect(r.body.resourceType, path).toBe('OperationOutcome');
        expect(r.body.issue[0].details.text, path).toMatch(new RegExp(`^Audit record ${target} cannot be shown: in its exchange facts, `));
        expect(r.body.issue[0].details.text, path).toContain('audit verify');
        expect(r.text, path).not.toContain('peek');
      }
      expect((await ig(s, token, 'GET', '/audit-chain/verify')).body).toMatchObject({ ok: false, firstBroken: { seq: target } });
    } finally {
      await setContent(original);
    }
    expect((await ig(s, token, 'GET', `/audit-events/${target}`)).status).toBe(200);
    expect((await ig(s, token, 'GET', '/audit-chain/verify')).body.ok).toBe(true);
  });
});
