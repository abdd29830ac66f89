import { existsSync, mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/sql-client.ts';
import { backends } from '../support/backends.ts';
import { startTestServer } from '../support/test-server.ts';
import type { TestServer } from '../support/test-server.ts';
import { oidcEnv } from './oidc-flow.ts';
import { startTestIdp } from './test-idp.ts';
import type { TestIdp } from './test-idp.ts';

/**
 * Issue #8: single sign-on in a real browser (Debian's Chromium, as in
 * browser.test.ts) through the login form of a real OpenID provider running
 * locally, outside demo mode. Screenshots under test-output/ig-web/.
 * Skipped, saying so, without Chromium.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SHOTS = new URL('../../test-output/ig-web/', import.meta.url).pathname;
if (!HAVE_CHROMIUM) {
  console.warn(`SKIPPED the IG web single sign-on browser test: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH).`);
}

const pglite = backends().find((b) => b.name === 'pglite')!;

describe.skipIf(!HAVE_CHROMIUM)('IG web single sign-on in Chromium (DEMO_DATA=off)', () => {
  let idp: TestIdp;
  let db: Database;
  let s: TestServer;
  let browser: Browser;
  let page: Page;
  const shot = (name: string) => page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true });

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    idp = await startTestIdp();
    db = await pglite.open();
    s = await startTestServer(db, oidcEnv(idp));
    idp.registerGateway(s.baseUrl);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  });
  afterAll(async () => {
    await browser?.close();
    await s?.close();
    await db?.close();
    await idp?.close();
  });

  it("signs an IG lead in through the provider's login form, and signs out there too", async () => {
    page = await (await browser.newContext({ viewport: { width: 1200, height: 900 } })).newPage();
    await page.goto(`${s.baseUrl}/ig`);
    expect(new URL(page.url()).pathname).toBe('/ig/sign-in');
    expect(await page.getByRole('button', { name: 'Sign in as the demo IG user' }).count()).toBe(0);
    await shot('10-sso-sign-in');
    await page.getByRole('button', { name: "Sign in with your organisation's account" }).click();

    // The provider's own login page (oidc-provider's development form: any password).
    await page.waitForURL((u) => u.origin === idp.issuer);
    await page.locator('input[name="login"]').fill('ig-lead-1');
    await page.locator('input[name="password"]').fill('any password');
    await shot('11-sso-provider-login');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();

    await page.waitForURL(`${s.baseUrl}/ig`);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Overview');
    expect(await page.textContent('.who')).toContain('Ada Testlead (synthetic) (Testshire Council Information Governance (synthetic))');
    expect(await page.getByRole('img', { name: /Exchanges per day/ }).count()).toBe(1);
    const cookie = (await page.context().cookies()).find((c) => c.name === 'joinedup_ig');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/ig' });
    await shot('12-sso-overview');

    await page.getByRole('button', { name: 'Sign out' }).click();
    // The provider asks to confirm its own sign-out, then sends the browser back to the sign-in page.
    await page.waitForURL((u) => u.origin === idp.issuer);
    await page.getByRole('button', { name: /Yes, sign me out/i }).click();
    await page.waitForURL(`${s.baseUrl}/ig/sign-in`);
    await page.goto(`${s.baseUrl}/ig`);
    expect(new URL(page.url()).pathname).toBe('/ig/sign-in');
  });

  it('shows a clear refusal to a user without the IG role', async () => {
    page = await (await browser.newContext({ viewport: { width: 375, height: 800 } })).newPage();
    await page.goto(`${s.baseUrl}/ig/sign-in`);
    await page.getByRole('button', { name: "Sign in with your organisation's account" }).click();
    await page.waitForURL((u) => u.origin === idp.issuer);
    await page.locator('input[name="login"]').fill('nurse-1');
    await page.locator('input[name="password"]').fill('any password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(/\/ig\/sign-in\/callback/);
    expect(await page.getByRole('alert').textContent()).toContain('Your account does not give access to the IG pages');
    await shot('13-sso-refused-phone');
  });
});
