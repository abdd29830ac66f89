import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/sql-client.ts';
import { SessionStore } from '../../src/ig-web/session.ts';
import type { IgWebUser } from '../../src/ig-web/session.ts';
import { backends } from '../support/backends.ts';
import { startTestServer } from '../support/test-server.ts';
import type { TestServer } from '../support/test-server.ts';
import { CookieJar, formOf } from './cookie-jar.ts';
import { oidcEnv, signInAtProvider, startSignIn } from './oidc-flow.ts';
import { startTestIdp } from './test-idp.ts';
import type { TestIdp } from './test-idp.ts';

/**
 * Issue #8 item 3: IG web sessions live in the database (ig_web_session), so
 * instances behind a load balancer share them and a restart signs nobody out.
 */
const USER: IgWebUser = { id: 'oidc-test-user', name: 'Test IG Lead (synthetic)', role: 'joinedup-ig', organisation: { ods: 'X9G02', name: 'Testshire IG' }, via: 'oidc' };

for (const backend of backends()) {
  describe(`IG web sessions shared by instances (${backend.name})`, () => {
    let idp: TestIdp;
    let db: Database;
    let a: TestServer;
    let b: TestServer;

    beforeAll(async () => {
      idp = await startTestIdp();
      db = await backend.open();
      // Two gateway instances on one database, as behind a load balancer: one public BASE_URL
      // (A's address here), so one callback address registered with the provider. B is reached at b.url.
      a = await startTestServer(db, oidcEnv(idp));
      b = await startTestServer(db, { ...oidcEnv(idp), BASE_URL: a.baseUrl });
      idp.registerGateway(a.baseUrl);
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await db?.close();
      await idp?.close();
    });

    it('a session made on one instance works on the other, forms included (same CSRF token), and sign-out on either ends it for both', async () => {
      const jar = new CookieJar();
      const back = await signInAtProvider(jar, await startSignIn(jar, a.baseUrl), a.baseUrl, 'ig-lead-1');
      expect((await jar.fetch(back.location!)).status).toBe(303);
      const cookie = jar.get(a.baseUrl, 'joinedup_ig')!;
      // The same cookie sent to instance B (a browser sees one site; the test has two ports).
      jar.set(b.url, 'joinedup_ig', cookie);
      const onB = await jar.fetch(`${b.url}/ig`);
      expect(onB.status).toBe(200);
      expect(onB.text).toContain('Ada Testlead (synthetic)');
      const csrf = formOf(onB).fields.csrf!;
      const whatIf = await jar.fetch(`${b.url}/ig/what-if`, { form: { csrf, actorOds: 'X99001', purpose: 'TREAT', nhsNumber: '9990000018', dataClass: 'care-plan', role: 'R8000' } });
      expect(whatIf.status).toBe(200);
      expect(whatIf.text).toContain('Decision');
      // Sign out on B: A no longer knows the session either.
      expect((await jar.fetch(`${b.url}/ig/sign-out`, { form: { csrf } })).status).toBe(303);
      expect((await jar.fetch(`${a.baseUrl}/ig`)).status).toBe(302);
    });

    it('a sign-in started on one instance can finish on the other (the state is in the database)', async () => {
      const jar = new CookieJar();
      const toProvider = await startSignIn(jar, a.baseUrl);
      jar.set(b.url, 'joinedup_ig', jar.get(a.baseUrl, 'joinedup_ig')!);
      const back = await signInAtProvider(jar, toProvider, a.baseUrl, 'ig-lead-1');
      const onB = new URL(back.location!);
      const done = await jar.fetch(`${b.url}${onB.pathname}${onB.search}`);
      expect(done.status).toBe(303);
      expect((await jar.fetch(`${b.url}/ig`)).status).toBe(200);
    });

    it('survives a restart: a session made before works on an instance started after', async () => {
      const jar = new CookieJar();
      const back = await signInAtProvider(jar, await startSignIn(jar, a.baseUrl), a.baseUrl, 'ig-lead-1');
      expect((await jar.fetch(back.location!)).status).toBe(303);
      const cookie = jar.get(a.baseUrl, 'joinedup_ig')!;
      await a.close();
      a = await startTestServer(db, { ...oidcEnv(idp), BASE_URL: b.baseUrl });
      const later = a;
      {
        jar.set(later.url, 'joinedup_ig', cookie);
        expect((await jar.fetch(`${later.url}/ig`)).status).toBe(200);
      }
    });

    it('stores the sha256 of the session id, never the id; ends idle sessions; purges expired ones', async () => {
      let now = Date.parse('2026-03-01T09:00:00Z');
      const store = new SessionStore(db, 30 * 60_000, () => now);
      const s = await store.create(USER);
      const rows = await db.query<{ id_hash: string }>("SELECT id_hash FROM ig_web_session WHERE user_json->>'id' = 'oidc-test-user'");
      expect(rows.rows).toHaveLength(1);
      expect(rows.rows[0]!.id_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(rows.rows[0]!.id_hash).not.toContain(s.id);
      expect(await store.get(`${s.id.slice(0, -1)}x`)).toBeUndefined();

      now += 29 * 60_000;
      expect((await store.get(s.id))?.user).toEqual(USER);
      // Each request restarts the idle clock: 29 minutes after that one, still there.
      now += 29 * 60_000;
      expect(await store.get(s.id)).toBeDefined();
      now += 31 * 60_000;
      expect(await store.get(s.id)).toBeUndefined();

      // Another store (another instance, a minute later) purges what expired.
      now += 60_000;
      await new SessionStore(db, 30 * 60_000, () => now).create();
      expect((await db.query("SELECT 1 FROM ig_web_session WHERE user_json->>'id' = 'oidc-test-user'")).rows).toHaveLength(0);
    });

    it('keeps a pending sign-in for one taker only', async () => {
      const store = new SessionStore(db, 30 * 60_000);
      const s = await store.create();
      await store.setPending(s.id, { state: 'st', nonce: 'no', codeVerifier: 'cv', startedAt: 1 });
      const [x, y] = await Promise.all([store.takePending(s.id), store.takePending(s.id)]);
      expect([x, y].filter(Boolean)).toEqual([{ state: 'st', nonce: 'no', codeVerifier: 'cv', startedAt: 1 }]);
      expect(await store.takePending(s.id)).toBeUndefined();
    });
  });
}
