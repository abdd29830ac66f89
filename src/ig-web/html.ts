import { escapeHtml } from '../ig/access-report-html.ts';
import type { IgWebSession } from './session.ts';

/**
 * HTML for the IG web page: template functions, every value through `e`.
 * A value built from trusted markup is wrapped in Html so it is not escaped
 * twice; anything else (strings from the database, the form, the user) is.
 */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export const e = escapeHtml;
export const raw = (s: string): Html => new Html(s);

/** Tagged template: interpolations are escaped unless Html; arrays are joined. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

function render(v: unknown): string {
  if (v instanceof Html) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === undefined || v === null || v === false) return '';
  return e(v);
}

export const NAV = [
  ['/ig', 'Overview'],
  ['/ig/audit', 'Audit search'],
  ['/ig/access-report', 'Access report'],
  ['/ig/reviews', 'Review queue'],
  ['/ig/what-if', 'What if'],
  ['/ig/agreements', 'Agreements'],
] as const;

export interface PageOptions {
  title: string;
  /** The nav entry to mark as current. */
  path?: string;
  session?: IgWebSession;
}

export function page(o: PageOptions, body: Html): string {
  const user = o.session?.user;
  const nav = user
    ? html`<nav aria-label="IG pages"><ul>${NAV.map(([href, label]) => html`<li><a href="${href}"${raw(href === o.path ? ' aria-current="page"' : '')}>${label}</a></li>`)}</ul></nav>
<div class="who"><span>${user.name} (${user.organisation.name})</span>
<form method="post" action="/ig/sign-out">${csrfField(o.session!)}<button type="submit">Sign out</button></form></div>`
    : '';
  return `<!DOCTYPE html>
<html lang="en-GB"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${e(o.title)} – JoinedUp information governance</title>
<link rel="stylesheet" href="/ig/static/ig.css"></head>
<body><a class="skip" href="#main">Skip to main content</a>
<header class="top"><a class="brand" href="/ig">JoinedUp IG</a>${nav}</header>
<main id="main" tabindex="-1"><h1>${e(o.title)}</h1>
${body}
</main></body></html>
`;
}

export function csrfField(session: IgWebSession): Html {
  return html`<input type="hidden" name="csrf" value="${session.csrf}">`;
}

/** A labelled <select>; `options` as [value, label]; an empty first option means "any". */
export function select(name: string, label: string, options: readonly (readonly [string, string])[], selected: string | undefined, o: { any?: string; hint?: string; required?: boolean; id?: string } = {}): Html {
  const id = o.id ?? `f-${name}`;
  return html`<div class="field"><label for="${id}">${label}${o.hint ? html`<span class="hint">${o.hint}</span>` : ''}</label>
<select id="${id}" name="${name}"${raw(o.required ? ' required' : '')}>${o.any !== undefined ? html`<option value="">${o.any}</option>` : ''}${options.map(
    ([v, l]) => html`<option value="${v}"${raw(v === selected ? ' selected' : '')}>${l}</option>`
  )}</select></div>`;
}

export function input(name: string, label: string, value: string | undefined, o: { type?: string; hint?: string; required?: boolean; autocomplete?: string; inputmode?: string; pattern?: string } = {}): Html {
  const id = `f-${name}`;
  const attrs = [
    o.required ? ' required' : '',
    o.autocomplete ? ` autocomplete="${e(o.autocomplete)}"` : '',
    o.inputmode ? ` inputmode="${e(o.inputmode)}"` : '',
    o.pattern ? ` pattern="${e(o.pattern)}"` : '',
    o.hint ? ` aria-describedby="${id}-hint"` : '',
  ].join('');
  return html`<div class="field"><label for="${id}">${label}</label>${o.hint ? html`<span class="hint" id="${id}-hint">${o.hint}</span>` : ''}
<input id="${id}" name="${name}" type="${o.type ?? 'text'}" value="${value ?? ''}"${raw(attrs)}></div>`;
}

export function table(caption: string, head: readonly string[], rows: readonly Html[], empty: string): Html {
  return html`<div class="scroll"><table><caption class="small">${caption}</caption><thead><tr>${head.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead>
<tbody>${rows.length ? rows : html`<tr><td colspan="${head.length}">${empty}</td></tr>`}</tbody></table></div>`;
}
