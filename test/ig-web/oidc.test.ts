import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import type { Database } from '../../src/db/sql-client.ts';
import { oidcUserId } from '../../src/ig-web/oidc.ts';
import { igOidcSettings } from '../../src/ig-web/oidc-config.ts';
import { backends } from '../support/backends.ts';
import { startTestServer } from '../support/test-server.ts';
import type { TestServer } from '../support/test-server.ts';
import { CookieJar, formOf } from './cookie-jar.ts';
import { oidcEnv, signInAtProvider, startSignIn } from './oidc-flow.ts';
import { IDP_CLIENT_ID, IDP_USERS, startTestIdp } from './test-idp.ts';
import type { TestIdp } from './test-idp.ts';

/**
 * Issue #8 item 2: sign-in to /ig with OpenID Connect (code + PKCE) against a
 * real provider running locally (test-idp.ts), driven over HTTP hop by hop,
 * outside demo mode. Every backend (PGlite; PostgreSQL with TEST_DATABASE_URL).
 */
for (const backend of backends()) {
  describe(`IG web sign-in with OpenID Connect (${backend.name}, DEMO_DATA=off)`, () => {
    let idp: TestIdp;
    let db: Database;
    let s: TestServer;
    let gw: string;

    beforeAll(async () => {
      idp = await startTestIdp();
      db = await backend.open();
      s = await startTestServer(db, oidcEnv(idp));
      gw = s.baseUrl;
      idp.registerGateway(gw);
    });
    afterAll(async () => {
      await s?.close();
      await db?.close();
      await idp?.close();
    });

    it('signs an IG lead in through the provider (code + PKCE S256, state, nonce) and shows the overview', async () => {
      const jar = new CookieJar();
      const toProvider = await startSignIn(jar, gw);
      const anonymous = jar.get(gw, 'joinedup_ig');
      expect(toProvider.status).toBe(303);
      // The form's redirect to the provider must be allowed by the page's CSP, or browsers stop there.
      const csp = (await fetch(`${gw}/ig/sign-in`)).headers.get('content-security-policy');
      expect(csp).toContain(`form-action 'self' ${idp.issuer};`);
      const auth = new URL(toProvider.location!);
      expect(auth.origin).toBe(idp.issuer);
      expect(auth.searchParams.get('client_id')).toBe(IDP_CLIENT_ID);
      expect(auth.searchParams.get('redirect_uri')).toBe(`${gw}/ig/sign-in/callback`);
      expect(auth.searchParams.get('response_type')).toBe('code');
      expect(auth.searchParams.get('code_challenge_method')).toBe('S256');
      expect(auth.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(auth.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{20,}$/);
      expect(auth.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{20,}$/);
      expect([...auth.searchParams.keys()].sort()).toEqual(['client_id', 'code_challenge', 'code_challenge_method', 'nonce', 'redirect_uri', 'response_type', 'scope', 'state']);

      const back = await signInAtProvider(jar, toProvider, gw, 'ig-lead-1');
      // The callback carries the code and state only: nothing about the person.
      expect([...new URL(back.location!).searchParams.keys()].sort()).toEqual(['code', 'iss', 'state']);
      const done = await jar.fetch(back.location!);
      expect(done.status).toBe(303);
      expect(done.location).toBe(`${gw}/ig`);
      const session = jar.get(gw, 'joinedup_ig');
      expect(session).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(session).not.toBe(anonymous);

      const overview = await jar.fetch(`${gw}/ig`);
      expect(overview.status).toBe(200);
      expect(overview.text).toContain('<h1>Overview</h1>');
      expect(overview.text).toContain('Ada Testlead (synthetic) (Testshire Council Information Governance (synthetic))');

      // The audit names the user by the sub-derived id, never by name or email.
      const userId = oidcUserId(idp.issuer, 'ig-lead-1');
      expect((await jar.fetch(`${gw}/ig/audit?outcome=deny`)).status).toBe(200);
      const rows = await db.query<{ user_id: string; org_ods: string; content: string }>("SELECT user_id, org_ods, content FROM audit_event WHERE client_id = 'ig-web'");
      expect(rows.rows.length).toBe(1);
      expect(rows.rows[0]).toMatchObject({ user_id: userId, org_ods: 'X9G02' });
      expect(rows.rows[0]!.content).not.toMatch(/Testlead|example\.invalid|ig-lead-1/);

      // The table keeps the session id's hash only.
      const stored = await db.query<{ id_hash: string; user_json: unknown }>('SELECT id_hash, user_json FROM ig_web_session WHERE user_json IS NOT NULL');
      expect(stored.rows.map((r) => r.id_hash)).not.toContain(session);
      expect(stored.rows.some((r) => JSON.stringify(r.user_json).includes(userId))).toBe(true);
    });

    it('takes the role from any of the configured values (a Caldicott Guardian group)', async () => {
      const jar = new CookieJar();
      const back = await signInAtProvider(jar, await startSignIn(jar, gw), gw, 'caldicott-1');
      expect((await jar.fetch(back.location!)).status).toBe(303);
      const overview = await jar.fetch(`${gw}/ig`);
      expect(overview.status).toBe(200);
      expect(overview.text).toContain('Cal Testguardian (synthetic)');
      const row = await db.query<{ user_json: unknown }>('SELECT user_json FROM ig_web_session WHERE user_json IS NOT NULL');
      expect(row.rows.map((r) => (typeof r.user_json === 'string' ? JSON.parse(r.user_json) : r.user_json).role)).toContain('joinedup-caldicott');
    });

    it('refuses a user without the IG role with a clear page, logged without personal data, and signs nobody in', async () => {
      const jar = new CookieJar();
      const back = await signInAtProvider(jar, await startSignIn(jar, gw), gw, 'nurse-1');
      const logged = [vi.spyOn(s.logger, 'info'), vi.spyOn(s.logger, 'warn')];
      const refused = await jar.fetch(back.location!);
      const lines = JSON.stringify(logged.flatMap((spy) => spy.mock.calls));
      logged.forEach((spy) => spy.mockRestore());
      expect(lines).toContain('IG web sign-in refused');
      expect(lines).toContain('no IG role');
      expect(lines).not.toMatch(/nurse-1|Testnurse|example\.invalid|oidc-/);
      expect(refused.status).toBe(403);
      expect(refused.text).toContain('Your account does not give access to the IG pages');
      expect(refused.text).not.toContain(IDP_USERS['nurse-1']!.name);
      const overview = await jar.fetch(`${gw}/ig`);
      expect(overview.status).toBe(302);
      expect(overview.location).toBe(`${gw}/ig/sign-in`);
    });

    it('refuses a callback whose state does not match, and the right one after it (each sign-in is answered once)', async () => {
      const jar = new CookieJar();
      const back = await signInAtProvider(jar, await startSignIn(jar, gw), gw, 'ig-lead-1');
      const forged = new URL(back.location!);
      forged.searchParams.set('state', 'not-the-state-we-sent-0123456789');
      const bad = await jar.fetch(forged.href);
      expect(bad.status).toBe(400);
      expect(bad.text).toContain('could not be completed');
      const late = await jar.fetch(back.location!);
      expect(late.status).toBe(400);
      expect(late.text).toContain('expired or was already used');
      expect((await jar.fetch(`${gw}/ig`)).status).toBe(302);
    });

    it('refuses a replayed callback, from the signed-in browser and from another one', async () => {
      const jar = new CookieJar();
      const toProvider = await startSignIn(jar, gw);
      const anonymous = jar.get(gw, 'joinedup_ig')!;
      const back = await signInAtProvider(jar, toProvider, gw, 'ig-lead-1');
      expect((await jar.fetch(back.location!)).status).toBe(303);
      const again = await jar.fetch(back.location!);
      expect(again.status).toBe(400);
      expect(again.text).toContain('expired or was already used');
      // The anonymous session the sign-in started from is gone: its cookie replays nothing.
      const other = new CookieJar();
      other.set(gw, 'joinedup_ig', anonymous);
      expect((await other.fetch(back.location!)).status).toBe(400);
      // A browser with no session at all.
      expect((await new CookieJar().fetch(back.location!)).status).toBe(400);
      // The signed-in browser is still signed in.
      expect((await jar.fetch(`${gw}/ig`)).status).toBe(200);
    });

    it('refuses a code obtained without this session\'s PKCE verifier (an injected code), and the provider requires PKCE', async () => {
      const victim = new CookieJar();
      const victimBack = await signInAtProvider(victim, await startSignIn(victim, gw), gw, 'ig-lead-1');
      const attacker = new CookieJar();
      const attackerBack = await signInAtProvider(attacker, await startSignIn(attacker, gw), gw, 'nurse-1');
      // The attacker's code, put into the victim's callback with the victim's state.
      const injected = new URL(victimBack.location!);
      injected.searchParams.set('code', new URL(attackerBack.location!).searchParams.get('code')!);
      const r = await victim.fetch(injected.href);
      expect(r.status).toBe(400);
      expect(r.text).toContain('could not be completed');
      expect((await victim.fetch(`${gw}/ig`)).status).toBe(302);

      // An authorisation request without a code challenge is refused by the provider itself.
      const noPkce = new URL(`${idp.issuer}/auth`);
      for (const [k, v] of Object.entries({ client_id: IDP_CLIENT_ID, redirect_uri: `${gw}/ig/sign-in/callback`, response_type: 'code', scope: 'openid', state: 'abcdefghijklmnopqrstuvwxyz', nonce: 'abcdefghijklmnopqrstuvwxyz' })) noPkce.searchParams.set(k, v);
      const refused = await new CookieJar().fetch(noPkce.href);
      expect(refused.status).toBe(303);
      const err = new URL(refused.location!);
      expect(err.origin + err.pathname).toBe(`${gw}/ig/sign-in/callback`);
      expect(err.searchParams.get('error')).toBe('invalid_request');
      expect(err.searchParams.get('error_description')).toMatch(/requires PKCE/);
      // And that error, brought to the gateway, signs nobody in.
      expect((await new CookieJar().fetch(err.href)).status).toBe(400);
    });

    it('refuses a POST without the CSRF token: the sign-in form, and forms of a signed-in session', async () => {
      const jar = new CookieJar();
      await jar.fetch(`${gw}/ig/sign-in`);
      const noToken = await jar.fetch(`${gw}/ig/sign-in/oidc`, { form: {} });
      expect(noToken.status).toBe(403);
      expect(noToken.location).toBeUndefined();
      const wrong = await jar.fetch(`${gw}/ig/sign-in/oidc`, { form: { csrf: 'x'.repeat(43) } });
      expect(wrong.status).toBe(403);

      const back = await signInAtProvider(jar, await startSignIn(jar, gw), gw, 'ig-lead-1');
      expect((await jar.fetch(back.location!)).status).toBe(303);
      const before = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_event');
      expect((await jar.fetch(`${gw}/ig/what-if`, { form: { actorOds: 'X99001', purpose: 'TREAT', nhsNumber: '9990000018', dataClass: 'care-plan', role: 'R8000' } })).status).toBe(403);
      expect((await jar.fetch(`${gw}/ig/sign-out`, { form: {} })).status).toBe(403);
      const after = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_event');
      expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
      expect((await jar.fetch(`${gw}/ig`)).status).toBe(200);
    });

    it('says when the user cancels at the provider, and offers no demo sign-in outside demo mode', async () => {
      const jar = new CookieJar();
      const toProvider = await startSignIn(jar, gw);
      const state = new URL(toProvider.location!).searchParams.get('state')!;
      // What a provider sends back when the user cancels: an error with our state.
      const cancelled = await jar.fetch(`${gw}/ig/sign-in/callback?error=access_denied&state=${state}&iss=${encodeURIComponent(idp.issuer)}`);
      expect(cancelled.status).toBe(403);
      expect(cancelled.text).toContain('cancelled or refused');
      const page = await jar.fetch(`${gw}/ig/sign-in`);
      expect(page.text).toContain("Sign in with your organisation's account");
      expect(page.text).not.toContain('/ig/sign-in/demo');
      expect((await jar.fetch(`${gw}/ig/sign-in/demo`, { form: { csrf: formOf(page).fields.csrf! } })).status).toBe(404);
    });

    it('signs out: the session ends here and at the provider (RP-initiated logout)', async () => {
      const jar = new CookieJar();
      const back = await signInAtProvider(jar, await startSignIn(jar, gw), gw, 'ig-lead-1');
      expect((await jar.fetch(back.location!)).status).toBe(303);
      const overview = await jar.fetch(`${gw}/ig`);
      const out = await jar.fetch(`${gw}/ig/sign-out`, { form: { csrf: formOf(overview).fields.csrf! } });
      expect(out.status).toBe(303);
      const end = new URL(out.location!);
      expect(end.origin + end.pathname).toBe(`${idp.issuer}/session/end`);
      expect(end.searchParams.get('client_id')).toBe(IDP_CLIENT_ID);
      expect(end.searchParams.get('post_logout_redirect_uri')).toBe(`${gw}/ig/sign-in`);
      expect(jar.get(gw, 'joinedup_ig')).toBeUndefined();
      // The provider asks to confirm, then comes back to the sign-in page.
      const confirm = await jar.follow(out, (u) => u.startsWith(gw));
      const form = formOf(confirm);
      const done = await jar.follow(await jar.fetch(form.action, { form: { ...form.fields, logout: 'yes' } }), (u) => u.startsWith(gw));
      expect(done.location).toBe(`${gw}/ig/sign-in`);
      // A new sign-in must go through the provider's login form again.
      const again = await jar.follow(await startSignIn(jar, gw), (u) => u.startsWith(gw));
      expect(formOf(again).fields.prompt).toBe('login');
    });
  });
}

describe('IG web single sign-on settings', () => {
  const base = { IG_OIDC_ISSUER: 'https://login.example.org/realms/council', IG_OIDC_CLIENT_ID: 'joinedup', IG_OIDC_ROLE_CLAIM: 'roles', IG_OIDC_ROLES: 'ig', IG_OIDC_ORG_ODS: 'X9G02', IG_OIDC_ORG_NAME: 'Council IG' };
  const settings = (env: Record<string, string>) => igOidcSettings(loadConfig(env));

  it('is off with no IG_OIDC_* setting, and complete with all of them', () => {
    expect(settings({})).toBeUndefined();
    expect(settings(base)).toMatchObject({ clientId: 'joinedup', scopes: 'openid profile email', roleClaim: 'roles', organisation: { ods: 'X9G02', name: 'Council IG' } });
    expect([...settings({ ...base, IG_OIDC_ROLES: 'ig, caldicott ,' })!.roles]).toEqual(['ig', 'caldicott']);
  });

  it('refuses a half configuration, naming what is missing', () => {
    expect(() => settings({ IG_OIDC_ISSUER: base.IG_OIDC_ISSUER })).toThrow(/half configured.*also set IG_OIDC_CLIENT_ID, IG_OIDC_ROLE_CLAIM, IG_OIDC_ROLES, IG_OIDC_ORG_ODS, IG_OIDC_ORG_NAME/);
    const { IG_OIDC_CLIENT_ID: _c, ...noClient } = base;
    expect(() => settings(noClient)).toThrow(/also set IG_OIDC_CLIENT_ID\b/);
    expect(() => settings({ IG_OIDC_CLIENT_SECRET: 's3cret' })).toThrow(/IG_OIDC_CLIENT_SECRET set\): also set IG_OIDC_ISSUER/);
    expect(() => settings({ ...base, IG_OIDC_ROLES: ' , ' })).toThrow(/IG_OIDC_ROLES/);
  });

  it('refuses plain http to another machine, a scope without openid and a bad ODS code', () => {
    expect(() => settings({ ...base, IG_OIDC_ISSUER: 'http://login.example.org' })).toThrow(/IG_OIDC_ISSUER: must be https/);
    expect(settings({ ...base, IG_OIDC_ISSUER: 'http://127.0.0.1:9999' })!.issuer.href).toBe('http://127.0.0.1:9999/');
    expect(() => loadConfig({ ...base, IG_OIDC_SCOPES: 'profile email' })).toThrow(/IG_OIDC_SCOPES: must include "openid"/);
    expect(() => loadConfig({ ...base, IG_OIDC_ORG_ODS: 'X9 G02' })).toThrow(/IG_OIDC_ORG_ODS/);
    expect(() => loadConfig({ ...base, IG_OIDC_ISSUER: 'ftp://login.example.org' })).toThrow(/IG_OIDC_ISSUER/);
  });

  it('stops the gateway from starting when half configured', async () => {
    const db = await backends()[0]!.open();
    try {
      await expect(startTestServer(db, { IG_OIDC_ISSUER: base.IG_OIDC_ISSUER })).rejects.toThrow(/IG_OIDC_CLIENT_ID/);
    } finally {
      await db.close();
    }
  });

  it('answers 503 with a clear page when the provider cannot be reached, and changes nothing', async () => {
    const db = await backends()[0]!.open();
    // A loopback port nobody listens on (the provider is closed at once).
    const idp = await startTestIdp();
    await idp.close();
    const s = await startTestServer(db, { ...oidcEnv(idp) });
    try {
      const jar = new CookieJar();
      const r = await startSignIn(jar, s.baseUrl);
      expect(r.status).toBe(503);
      expect(r.text).toContain('cannot be reached');
    } finally {
      await s.close();
      await db.close();
    }
  });
});
