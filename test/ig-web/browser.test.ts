import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../support/backends.ts';
import { suiteServer } from '../support/test-server.ts';
import { makeEvents, P_NHS } from '../ig/ig-setup.ts';

/**
 * Issue #8 item 4: the IG web page in a real browser (Debian's Chromium,
 * driven by playwright-core; no downloaded browsers). Each step saves a
 * screenshot under test-output/ig-web/. Skipped, saying so, when
 * /usr/bin/chromium is missing; .ci/run installs it, so CI always runs these.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SHOTS = new URL('../../test-output/ig-web/', import.meta.url).pathname;
if (!HAVE_CHROMIUM) {
  console.warn(`SKIPPED the IG web browser tests: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH).`);
}

const pglite = backends().find((b) => b.name === 'pglite')!;

describe.skipIf(!HAVE_CHROMIUM)('IG web page in Chromium (demo mode)', () => {
  const s = suiteServer(pglite);
  let browser: Browser;
  let page: Page;
  const shot = (name: string) => page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true });

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await makeEvents(s);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('signs in with the demo sign-in and shows the overview', async () => {
    await page.goto(`${s.baseUrl}/ig`);
    expect(new URL(page.url()).pathname).toBe('/ig/sign-in');
    await shot('01-sign-in');
    await page.getByRole('button', { name: 'Sign in as the demo IG user' }).click();
    await page.waitForURL(`${s.baseUrl}/ig`);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Overview');
    expect(await page.textContent('main')).toContain('Intact');
    expect(await page.textContent('#h-pending + p')).toContain('1 break-glass or safeguarding override');
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === 'joinedup_ig')).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
    await shot('02-overview');
  });

  it('filters the audit and exports the filtered records as CSV', async () => {
    await page.getByRole('link', { name: 'Audit search' }).click();
    await page.getByLabel('Outcome').selectOption('deny');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/outcome=deny/);
    const outcomes = await page.locator('tbody tr td:nth-child(8)').allTextContents();
    expect(outcomes.length).toBeGreaterThan(0);
    expect(new Set(outcomes)).toEqual(new Set(['deny']));
    await shot('03-audit-search');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: /Export these results as CSV/ }).click()]);
    const csv = readFileSync((await download.path())!, 'utf8');
    const lines = csv.trim().split('\r\n');
    expect(lines.length).toBe(outcomes.length + 1);
    expect(lines.slice(1).every((l) => l.includes(',deny,'))).toBe(true);
  });

  it("opens a person's access report by NHS number (never in the URL)", async () => {
    await page.getByRole('link', { name: 'Access report' }).click();
    await page.getByLabel('NHS number').fill(P_NHS);
    await page.getByRole('button', { name: 'Show the access report' }).click();
    await page.waitForSelector('text=Accesses to this record');
    expect(page.url()).not.toContain(P_NHS);
    const text = await page.textContent('main');
    expect(text).toContain('Patient/ig-p1');
    expect(text).not.toContain('Patient/ig-q2');
    // The justification with markup in it is shown as text.
    expect(text).toContain('Collapsed <script>alert("x")</script> & no history');
    await shot('04-access-report');
  });

  it('reviews an override from the queue', async () => {
    await page.getByRole('link', { name: 'Review queue' }).click();
    const card = page.locator('section.card').first();
    const title = (await card.locator('h2').textContent()) ?? '';
    expect(title).toMatch(/^Override \d+: break-glass$/);
    await shot('05-review-queue');
    await card.getByLabel('Review outcome').selectOption('appropriate');
    await card.getByLabel(/Note/).fill('Checked with the ward: emergency admission.');
    await card.getByRole('button', { name: 'Mark reviewed' }).click();
    await page.waitForSelector('text=marked reviewed');
    expect(await page.textContent('main')).toContain('No overrides are waiting for review.');
    await shot('06-reviewed');
  });

  it('runs a what-if and shows the decision, the rules fired and the lawful basis', async () => {
    await page.getByRole('link', { name: 'What if' }).click();
    await page.getByLabel('Organisation asking (ODS code)').fill('X99001');
    await page.getByLabel('Purpose of use').selectOption('TREAT');
    await page.getByLabel('NHS number of the person').fill(P_NHS);
    await page.getByLabel('Data class').selectOption('care-plan');
    await page.getByRole('button', { name: 'Ask the gate' }).click();
    await page.waitForSelector('#h-answer');
    expect(await page.textContent('#h-answer')).toBe('Decision: permit');
    const main = (await page.textContent('main')) ?? '';
    expect(main).toContain('Rules fired');
    expect(main).toMatch(/R\d+-/);
    expect(main).toContain('art6-1-e');
    expect(page.url()).not.toContain(P_NHS);
    await shot('07-what-if');
  });

  it('lists the agreements in force', async () => {
    await page.getByRole('link', { name: 'Agreements' }).click();
    expect(await page.textContent('main')).toMatch(/1 sharing agreement in force/);
    await shot('08-agreements');
  });

  it('works at phone width and from the keyboard', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    await page.goto(`${s.baseUrl}/ig/audit`);
    // Strings, not functions: they run in the page, and the test's TypeScript has no DOM types.
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
    await page.keyboard.press('Tab');
    expect(await page.evaluate<string>('document.activeElement?.textContent')).toBe('Skip to main content');
    // Every form control has a label.
    const unlabelled = await page.evaluate<number>("[...document.querySelectorAll('input:not([type=hidden]), select, textarea')].filter((el) => !el.labels?.length).length");
    expect(unlabelled).toBe(0);
    await shot('09-audit-phone');
  });
});
