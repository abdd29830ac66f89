/**
 * fetch with a cookie jar, following redirects by hand, so a test sees every
 * hop of a sign-in (gateway → provider → gateway) like a browser would.
 * Cookies are kept per host:port and sent to every path there.
 */
export interface Hop {
  url: string;
  status: number;
  location?: string;
  text: string;
}

export class CookieJar {
  private readonly jar = new Map<string, Map<string, string>>();

  cookieFor(url: string): string {
    const m = this.jar.get(new URL(url).host);
    return m ? [...m].map(([k, v]) => `${k}=${v}`).join('; ') : '';
  }

  get(url: string, name: string): string | undefined {
    return this.jar.get(new URL(url).host)?.get(name);
  }

  set(url: string, name: string, value: string): void {
    const host = new URL(url).host;
    if (!this.jar.has(host)) this.jar.set(host, new Map());
    this.jar.get(host)!.set(name, value);
  }

  /** One request, no redirect followed. */
  async fetch(url: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<Hop> {
    const cookie = this.cookieFor(url);
    const r = await fetch(url, {
      method: init.method ?? (init.form ? 'POST' : 'GET'),
      redirect: 'manual',
      headers: { ...(cookie ? { cookie } : {}), ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      ...(init.form ? { body: new URLSearchParams(init.form).toString() } : {}),
    });
    for (const c of r.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i).trim();
      const value = pair!.slice(i + 1).trim();
      const host = new URL(url).host;
      if (!this.jar.has(host)) this.jar.set(host, new Map());
      const gone = value === '' || attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]!) < Date.now()));
      if (gone) this.jar.get(host)!.delete(name);
      else this.jar.get(host)!.set(name, value);
    }
    const location = r.headers.get('location');
    return { url, status: r.status, text: await r.text(), ...(location ? { location: new URL(location, url).href } : {}) };
  }

  /** Follows redirects (as GETs) until a page answers or `stopAt` matches the next address. */
  async follow(first: Hop, stopAt?: (url: string) => boolean, max = 20): Promise<Hop> {
    let hop = first;
    for (let i = 0; i < max && hop.location && hop.status >= 300 && hop.status < 400; i++) {
      if (stopAt?.(hop.location)) return hop;
      hop = await this.fetch(hop.location);
    }
    return hop;
  }
}

/** The first form of a page: its action and hidden fields. */
export function formOf(page: Hop): { action: string; fields: Record<string, string> } {
  const form = /<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(page.text);
  if (!form) throw new Error(`no form on ${page.url} (${page.status}): ${page.text.slice(0, 300)}`);
  const fields: Record<string, string> = {};
  for (const m of form[2]!.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) fields[m[1]!] = unescape(m[2]!);
  return { action: new URL(unescape(form[1]!), page.url).href, fields };
}

const unescape = (s: string) => s.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
