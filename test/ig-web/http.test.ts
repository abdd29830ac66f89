import { beforeAll, describe, expect, it } from 'vitest';
import { cookieIsSecure } from '../../src/ig-web/session.ts';
import { backends } from '../support/backends.ts';
import { suiteServer } from '../support/test-server.ts';
import type { TestServer } from '../support/test-server.ts';
import { makeEvents, P_NHS } from '../ig/ig-setup.ts';

/** Issue #8 without a browser: sessions, CSRF, the sign-in gate, headers and audit of page views. */
const pglite = backends().find((b) => b.name === 'pglite')!;

interface Page {
  status: number;
  headers: Headers;
  text: string;
}

async function get(s: TestServer, path: string, cookie = ''): Promise<Page> {
  const r = await fetch(`${s.baseUrl}${path}`, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  return { status: r.status, headers: r.headers, text: await r.text() };
}

async function post(s: TestServer, path: string, form: Record<string, string>, cookie = ''): Promise<Page> {
  const r = await fetch(`${s.baseUrl}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams(form).toString(),
  });
  return { status: r.status, headers: r.headers, text: await r.text() };
}

const cookieOf = (p: Page) => (p.headers.get('set-cookie') ?? '').split(';')[0]!;
const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

/** Signs in with the demo sign-in; returns the session cookie and the page's CSRF token. */
export async function demoSignIn(s: TestServer): Promise<{ cookie: string; csrf: string }> {
  const signIn = await get(s, '/ig/sign-in');
  const anon = cookieOf(signIn);
  const done = await post(s, '/ig/sign-in/demo', { csrf: csrfOf(signIn.text) }, anon);
  expect(done.status).toBe(303);
  const cookie = cookieOf(done);
  const overview = await get(s, '/ig', cookie);
  expect(overview.status).toBe(200);
  return { cookie, csrf: csrfOf(overview.text) };
}

describe('IG web page over HTTP, demo mode (pglite, DEMO_DATA=auto)', () => {
  const s = suiteServer(pglite);
  beforeAll(async () => {
    await makeEvents(s);
  });

  it('sends every page without a session to the sign-in page', async () => {
    for (const path of ['/ig', '/ig/audit', '/ig/audit.csv', '/ig/access-report', '/ig/reviews', '/ig/what-if', '/ig/agreements']) {
      const r = await get(s, path);
      expect(r.status, path).toBe(302);
      expect(r.headers.get('location'), path).toBe('/ig/sign-in');
    }
  });

  it('sets an HttpOnly, SameSite=Lax session cookie (not Secure on http://127.0.0.1) and a strict CSP', async () => {
    const r = await get(s, '/ig/sign-in');
    expect(r.status).toBe(200);
    const setCookie = r.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^joinedup_ig=[A-Za-z0-9_-]{43}; Path=\/ig; HttpOnly; SameSite=Lax$/);
    expect(r.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.text).toContain('Sign in as the demo IG user');
    expect(cookieIsSecure('https://gw.example.org')).toBe(true);
    expect(cookieIsSecure('http://gw.example.org')).toBe(true);
    expect(cookieIsSecure('http://localhost:8080')).toBe(false);
  });

  it('refuses the sign-in without the CSRF token, and gives a new session id on sign-in', async () => {
    const signIn = await get(s, '/ig/sign-in');
    const anon = cookieOf(signIn);
    expect((await post(s, '/ig/sign-in/demo', {}, anon)).status).toBe(403);
    expect((await post(s, '/ig/sign-in/demo', { csrf: 'wrong' }, anon)).status).toBe(403);
    expect((await post(s, '/ig/sign-in/demo', { csrf: csrfOf(signIn.text) })).status).toBe(403);
    const { cookie } = await demoSignIn(s);
    expect(cookie).not.toBe(anon);
    expect((await get(s, '/ig', anon)).status).toBe(302);
  });

  it('refuses every POST without the CSRF token, and changes nothing', async () => {
    const { cookie, csrf } = await demoSignIn(s);
    const before = await s.db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_event');
    for (const [path, form] of [
      ['/ig/access-report', { nhsNumber: P_NHS }],
      ['/ig/what-if', { actorOds: 'X99001', purpose: 'TREAT', nhsNumber: P_NHS, dataClass: 'care-plan', role: 'R8000' }],
      ['/ig/reviews/1', { outcome: 'appropriate' }],
      ['/ig/sign-out', {}],
    ] as const) {
      expect((await post(s, path, form, cookie)).status, path).toBe(403);
      expect((await post(s, path, { ...form, csrf: `${csrf}x` }, cookie)).status, path).toBe(403);
      expect((await post(s, path, { ...form, csrf })).status, `${path} without cookie`).toBe(403);
    }
    const after = await s.db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_event');
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
    expect((await get(s, '/ig', cookie)).status).toBe(200);
  });

  it('audits each view of personal data as the signed-in IG user, and keeps the NHS number out of the record', async () => {
    const { cookie, csrf } = await demoSignIn(s);
    const count = async () => (await s.db.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_event WHERE client_id = 'ig-web' AND user_id = 'demo-ig-user-1'")).rows[0]!.n;
    const n0 = await count();
    expect((await get(s, '/ig/audit?outcome=deny', cookie)).status).toBe(200);
    const report = await post(s, '/ig/access-report', { nhsNumber: P_NHS, csrf }, cookie);
    expect(report.status).toBe(200);
    expect(report.text).toContain('Who has accessed this record');
    expect(report.text).not.toContain('<script>alert');
    expect((await get(s, '/ig/reviews', cookie)).status).toBe(200);
    expect((await post(s, '/ig/what-if', { actorOds: 'X99001', purpose: 'TREAT', nhsNumber: P_NHS, dataClass: 'care-plan', role: 'R8000', csrf }, cookie)).status).toBe(200);
    expect(await count()).toBe(n0 + 4);
    const rows = await s.db.query<{ content: string }>("SELECT content FROM audit_event WHERE client_id = 'ig-web'");
    for (const r of rows.rows) expect(r.content).not.toContain(P_NHS);
  });

  it('keeps person filters out of the URL: patient and user are refused on the search page', async () => {
    const { cookie } = await demoSignIn(s);
    const r = await get(s, '/ig/audit?patient=ig-p1', cookie);
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toContain('text/html');
    expect(r.text).toContain('Unknown parameter');
  });

  it('signs out: the session is gone', async () => {
    const { cookie, csrf } = await demoSignIn(s);
    const r = await post(s, '/ig/sign-out', { csrf }, cookie);
    expect(r.status).toBe(303);
    expect((await get(s, '/ig', cookie)).status).toBe(302);
  });

  it('leaves the IG API (/ig/v1) answering OperationOutcomes', async () => {
    const r = await get(s, '/ig/v1/audit-events');
    expect(r.status).toBe(401);
    expect(r.text).toContain('OperationOutcome');
  });
});

describe('IG web page outside demo mode (DEMO_DATA=off, no sign-in configured)', () => {
  const s = suiteServer(pglite, { DEMO_DATA: 'off' });

  it('says sign-in is not configured and offers no demo sign-in', async () => {
    const r = await get(s, '/ig/sign-in');
    expect(r.status).toBe(503);
    expect(r.text).toContain('Sign-in is not configured');
    expect(r.text).not.toContain('/ig/sign-in/demo');
    const demo = await post(s, '/ig/sign-in/demo', {});
    expect(demo.status).toBe(404);
    expect(demo.headers.get('set-cookie')).toBeNull();
    expect((await get(s, '/ig')).status).toBe(302);
  });
});
