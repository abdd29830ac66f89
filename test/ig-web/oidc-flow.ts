import { expect } from 'vitest';
import { CookieJar, formOf } from './cookie-jar.ts';
import type { Hop } from './cookie-jar.ts';
import { IDP_CLIENT_ID } from './test-idp.ts';
import type { TestIdp } from './test-idp.ts';

/** The gateway's IG_OIDC_* settings for the local test provider, outside demo mode. */
export function oidcEnv(idp: TestIdp): Record<string, string> {
  return {
    DEMO_DATA: 'off',
    IG_OIDC_ISSUER: idp.issuer,
    IG_OIDC_CLIENT_ID: IDP_CLIENT_ID,
    IG_OIDC_SCOPES: 'openid profile groups',
    IG_OIDC_ROLE_CLAIM: 'groups',
    IG_OIDC_ROLES: 'joinedup-ig, joinedup-caldicott',
    IG_OIDC_ORG_ODS: 'X9G02',
    IG_OIDC_ORG_NAME: 'Testshire Council Information Governance (synthetic)',
  };
}

/** The gateway's sign-in form, posted: the answer is the redirect to the provider. */
export async function startSignIn(jar: CookieJar, gw: string): Promise<Hop> {
  const page = await jar.fetch(`${gw}/ig/sign-in`);
  expect(page.status).toBe(200);
  const form = formOf(page);
  expect(form.action).toBe(`${gw}/ig/sign-in/oidc`);
  return jar.fetch(form.action, { form: form.fields });
}

/** Through the provider's login (and consent) forms; returns the hop that redirects back to the gateway's callback, not yet followed. */
export async function signInAtProvider(jar: CookieJar, toProvider: Hop, gw: string, login: string): Promise<Hop> {
  let hop = await jar.follow(toProvider, (u) => u.startsWith(gw));
  for (let i = 0; i < 4 && !hop.location?.startsWith(gw); i++) {
    const form = formOf(hop);
    const fields = form.fields.prompt === 'login' ? { ...form.fields, login, password: 'any password' } : form.fields;
    hop = await jar.follow(await jar.fetch(form.action, { form: fields }), (u) => u.startsWith(gw));
  }
  expect(hop.location).toMatch(new RegExp(`^${gw}/ig/sign-in/callback\\?`));
  return hop;
}
