import { auditEventOf } from '../audit/stored-event.ts';
import { PURPOSES, PURPOSE_CODES } from '../auth/purposes.ts';
import { REVIEW_OUTCOMES } from '../audit/review.ts';
import type { StoredAgreement } from '../gate/agreements/agreement-store.ts';
import { RULE_TITLES } from '../gate/citations.ts';
import { LAWFUL_BASIS_DISPLAY } from '../gate/lawful-basis-codes.ts';
import { DATA_CLASSES } from '../gate/types.ts';
import type { Decision } from '../gate/types.ts';
import type { AccessEntry } from '../ig/access-report.ts';
import type { AuditFilters } from '../ig/audit-filters.ts';
import type { IgAuditRow } from '../ig/audit-query.ts';
import { gateParts } from '../ig/event-parts.ts';
import type { ChainStatus } from './chain-status.ts';
import { exchangesOverTime } from './chart.ts';
import { csrfField, html, input, raw, select, table } from './html.ts';
import type { Html } from './html.ts';
import type { Overview, WhatIfAnswer, WhatIfQuestion } from './queries.ts';
import type { IgWebSession } from './session.ts';

/** Page bodies. Each returns Html for page(); values are escaped by html``. */

const OUTCOMES = [
  ['permit', 'permit (shared)'],
  ['permit-withheld', 'permit, some information withheld'],
  ['deny', 'deny (refused)'],
  ['error', 'error'],
] as const;
const purposeLabel = (p: string | null) => (p ? `${PURPOSES[p as keyof typeof PURPOSES]?.display ?? p} (${p})` : '—');
const basisLabel = (c: string | null) => (c ? `${LAWFUL_BASIS_DISPLAY[c] ?? c} (${c})` : '—');
const BASIS_PARTS: Record<string, string> = {
  art6: 'UK GDPR Article 6 (lawful basis)',
  art9: 'UK GDPR Article 9 (special category condition)',
  dpaSchedule1: 'Data Protection Act 2018 Schedule 1',
  commonLaw: 'Common law duty of confidentiality',
  statutoryGateway: 'Statutory gateway',
};
const purposeOptions = PURPOSE_CODES.map((p) => [p, `${PURPOSES[p].display} (${p})`] as const);
const art6Options = Object.keys(LAWFUL_BASIS_DISPLAY)
  .filter((c) => c.startsWith('art6'))
  .map((c) => [c, basisLabel(c)] as const);

/** The sign-in page: single sign-on when configured, the demo sign-in in demo mode, or a plain "not configured". */
export function signInPage(session: IgWebSession | undefined, ways: { demo: boolean; oidc: boolean }): Html {
  if (!session || (!ways.demo && !ways.oidc)) {
    return html`<div class="error" role="alert"><p><strong>Sign-in is not configured.</strong></p>
<p>This gateway has no single sign-on configured for the IG web page, and the built-in demo sign-in is only available in demo mode. An operator must configure sign-in; see docs/ig-web.md.</p></div>`;
  }
  return html`${
    ways.oidc
      ? html`<p>Sign in with your organisation's account. You will be taken to your organisation's sign-in page and brought back here.</p>
<form method="post" action="/ig/sign-in/oidc">${csrfField(session)}<button type="submit">Sign in with your organisation's account</button></form>`
      : ''
  }${
    ways.demo
      ? html`<div class="notice"><p>This gateway is running in <strong>demo mode</strong> with invented data. Sign in as the demo privacy officer of Midshire Information Governance (demo).</p></div>
<form method="post" action="/ig/sign-in/demo">${csrfField(session)}<button type="submit"${raw(ways.oidc ? ' class="secondary"' : '')}>Sign in as the demo IG user</button></form>`
      : ''
  }`;
}

/** Why a single sign-on did not end in a session; never anything about the person. */
export function signInProblem(kind: 'no-ig-role' | 'expired' | 'failed' | 'unavailable' | 'cancelled'): Html {
  const text = {
    'no-ig-role': html`<p><strong>Your account does not give access to the IG pages.</strong></p><p>You signed in, but your organisation has not given your account an information-governance role for JoinedUp. If you need access, ask your organisation's IT or identity team to add you to the IG role or group.</p>`,
    expired: html`<p><strong>This sign-in has expired or was already used.</strong></p><p>Start again from the sign-in page.</p>`,
    failed: html`<p><strong>The sign-in could not be completed.</strong></p><p>The answer from your organisation's sign-in service did not check out, so nobody was signed in. Start again from the sign-in page.</p>`,
    unavailable: html`<p><strong>Your organisation's sign-in service cannot be reached.</strong></p><p>Nothing was changed. Try again in a few minutes; if it keeps happening, tell the gateway's operator.</p>`,
    cancelled: html`<p><strong>The sign-in was cancelled or refused at your organisation's sign-in service.</strong></p><p>Nobody was signed in. Start again from the sign-in page.</p>`,
  }[kind];
  return html`<div class="error" role="alert">${text}</div><p><a href="/ig/sign-in">Back to the sign-in page</a></p>`;
}

const utc = (d: Date | undefined) => (d ? `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC` : '—');

function chainCard(chain: ChainStatus): Html {
  const when = html`<p class="small">Newest records checked ${utc(chain.checkedAt)}; whole chain last walked ${utc(chain.fullAt)} (again at most every 15 minutes).</p>`;
  const state =
    chain.state === 'broken'
      ? html`<p class="bad">Broken at record ${chain.firstBroken?.seq ?? '?'}: ${chain.firstBroken?.reason ?? ''}</p>`
      : chain.state === 'checking'
        ? html`<p>Checking the whole chain now${chain.checked ? html` (last check: intact, ${chain.checked} records)` : ''}. Reload the page in a moment.</p>`
        : html`<p class="ok">Intact: ${chain.checked} records checked.</p>`;
  return html`<section class="card" aria-labelledby="h-chain"><h2 id="h-chain">Audit chain integrity</h2>${state}<p class="small">Head record ${chain.head.seq ?? 'none'}, hash <code>${chain.head.hash.slice(0, 16)}…</code></p>${chain.checkedAt ? when : ''}</section>`;
}

export function overviewPage(o: Overview, chain: ChainStatus): Html {
  const list = (title: string, rows: Overview['byOutcome'], label: (k: string | null) => string) =>
    html`<section class="card" aria-labelledby="h-${title}"><h2 id="h-${title}">${title}</h2>${
      rows.length ? html`<table><thead><tr><th scope="col">${title}</th><th scope="col">Exchanges</th></tr></thead><tbody>${rows.map((r) => html`<tr><td>${label(r.key)}</td><td>${r.n}</td></tr>`)}</tbody></table>` : html`<p>None.</p>`
    }</section>`;
  return html`<p>Exchanges recorded since ${o.since.toISOString().slice(0, 10)} (the last 30 days): <strong>${o.total}</strong>.</p>
${exchangesOverTime(o.byDay)}
<div class="grid">
<section class="card" aria-labelledby="h-pending"><h2 id="h-pending">Overrides waiting for review</h2><p><strong>${o.pendingOverrides}</strong> break-glass or safeguarding override${o.pendingOverrides === 1 ? '' : 's'}.</p><p><a href="/ig/reviews">Open the review queue</a></p></section>
${chainCard(chain)}
${list('Outcome', o.byOutcome, (k) => OUTCOMES.find(([v]) => v === k)?.[1] ?? k ?? '—')}
${list('Lawful basis', o.byLawfulBasis, basisLabel)}
${list('Purpose', o.byPurpose, purposeLabel)}
${list('Organisation', o.byOrganisation, (k) => k ?? '— (none)')}
</div>`;
}

/** The audit search form: the filters that are not about a person, so they may sit in the URL. */
export function auditPage(f: AuditFilters, rows: readonly IgAuditRow[], query: string, next: string | undefined): Html {
  const q = query ? `?${query}` : '';
  return html`<form class="filters" method="get" action="/ig/audit" aria-label="Filter the audit trail">
${input('from', 'From', f.from, { type: 'date' })}
${input('to', 'To', f.to, { type: 'date' })}
${select('outcome', 'Outcome', OUTCOMES, f.outcome, { any: 'any' })}
${select('purpose', 'Purpose', purposeOptions, f.purpose, { any: 'any' })}
${select('lawful-basis', 'Lawful basis (Article 6)', art6Options, f['lawful-basis'], { any: 'any' })}
${input('organisation', 'Organisation ODS code', f.organisation, { hint: 'for example X99001', autocomplete: 'off' })}
${select('override', 'Override', [['break-glass', 'break-glass'], ['safeguarding', 'safeguarding']], f.override, { any: 'any' })}
${select('review', 'Review', [['pending', 'waiting for review'], ['reviewed', 'reviewed']], f.review, { any: 'any' })}
<div class="field"><button type="submit">Search</button></div>
</form>
<p><a class="button" href="/ig/audit.csv${q}" download>Export these results as CSV</a> <span class="small">(every matching record, not just this page)</span></p>
${table(
  'Audit records, newest first',
  ['Record', 'When (UTC)', 'Organisation', 'User', 'Action', 'Purpose', 'Lawful basis', 'Outcome', 'Patient', 'Override'],
  rows.map((r) => {
    const parts = gateParts(auditEventOf(r.content, r.seq));
    return html`<tr><td>${r.seq}</td><td>${r.recorded.replace('T', ' ').slice(0, 19)}</td><td>${r.org_ods ?? ''}</td><td>${r.user_id ?? ''}</td><td>${r.subtype}</td><td>${r.purpose ?? ''}</td><td>${r.lawful_basis ?? ''}${parts.rules.length ? html`<div class="small">${parts.rules.join(', ')}</div>` : ''}</td><td class="${r.outcome === 'deny' ? 'deny' : r.outcome === 'permit' ? 'permit' : ''}">${r.outcome}</td><td>${r.patient_id ? `Patient/${r.patient_id}` : ''}</td><td>${r.override ? html`${r.override}<div class="small">${r.review_state ?? ''}</div>` : r.reviews_seq ? html`review of ${r.reviews_seq}` : ''}</td></tr>`;
  }),
  'No audit records match these filters.'
)}
${next ? html`<p><a href="/ig/audit?${next}">Next page (older records)</a></p>` : ''}`;
}

export function accessReportForm(session: IgWebSession, error?: string): Html {
  return html`${error ? html`<div class="error" role="alert">${error}</div>` : ''}
<p>Who has accessed a person's record, when, why and on what lawful basis: the subject access answer. The NHS number is sent in the form, never in the page address.</p>
<form method="post" action="/ig/access-report">${csrfField(session)}
${input('nhsNumber', 'NHS number', undefined, { hint: '10 digits, spaces allowed', required: true, inputmode: 'numeric', autocomplete: 'off' })}
<button type="submit">Show the access report</button></form>`;
}

const ACTIONS: Record<string, string> = { C: 'created', R: 'read', U: 'updated', D: 'deleted', E: 'searched or queried' };

export function accessReportPage(session: IgWebSession, nhsNumber: string, patientIds: readonly string[], entries: readonly AccessEntry[], generatedBy: string): Html {
  return html`<p class="small">Record reference${patientIds.length > 1 ? 's' : ''}: ${patientIds.map((id) => `Patient/${id}`).join(', ')}. Produced ${new Date().toISOString()} by ${generatedBy} from the append-only, hash-chained audit trail. ${entries.length} recorded access${entries.length === 1 ? '' : 'es'}, oldest first; refused requests are listed too (nothing was shared in them).</p>
<div class="noprint"><form method="post" action="/ig/access-report">${csrfField(session)}<input type="hidden" name="nhsNumber" value="${nhsNumber}"><input type="hidden" name="format" value="csv"><button type="submit" class="secondary">Download as CSV</button></form>
<p class="small">To print: use your browser's print command; the navigation is left out of the printout.</p></div>
${table(
  'Accesses to this record',
  ['When (UTC)', 'Organisation', 'User', 'What', 'Why (purpose)', 'Lawful basis', 'Outcome', 'Override'],
  entries.map(
    (x) =>
      html`<tr><td>${x.recorded.replace('T', ' ').slice(0, 19)}</td><td>${x.organisation ?? ''}</td><td>${x.user ?? ''}${x.role ? html`<div class="small">role ${x.role}</div>` : ''}</td><td>${ACTIONS[x.action] ?? x.action}<div class="small">${x.resourceTypes.join(', ')}</div></td><td>${purposeLabel(x.purpose)}</td><td>${x.lawfulBasis.map((c) => html`<div>${basisLabel(c)}</div>`)}${x.rules.length ? html`<div class="small">rules: ${x.rules.join(', ')}</div>` : ''}</td><td>${x.outcome}</td><td>${
        x.override
          ? html`<strong>${x.override}</strong>${x.justification ? html`<div class="small">reason given: ${x.justification}</div>` : ''}<div class="small">${x.review ? `reviewed ${x.review.recorded}${x.review.outcome ? `: ${x.review.outcome}` : ''}` : 'awaiting review'}</div>`
          : ''
      }</td></tr>`
  ),
  'No access to this record has been recorded.'
)}`;
}

export function reviewsPage(session: IgWebSession, rows: readonly IgAuditRow[], done?: number): Html {
  return html`${done ? html`<div class="notice" role="status">Override ${done} marked reviewed.</div>` : ''}
<p>Break-glass and safeguarding overrides waiting for review, oldest first. Each review is appended to the audit trail as its own record.</p>
${rows.length ? '' : html`<p>No overrides are waiting for review.</p>`}
${rows.map((r) => {
  const parts = gateParts(auditEventOf(r.content, r.seq));
  return html`<section class="card" aria-labelledby="h-ov-${r.seq}"><h2 id="h-ov-${r.seq}">Override ${r.seq}: ${r.override}</h2>
<dl class="kv"><dt>When (UTC)</dt><dd>${r.recorded.replace('T', ' ').slice(0, 19)}</dd><dt>Organisation</dt><dd>${r.org_ods ?? ''}</dd><dt>User</dt><dd>${r.user_id ?? ''}</dd>
<dt>Purpose</dt><dd>${purposeLabel(r.purpose)}</dd><dt>Record</dt><dd>${r.patient_id ? `Patient/${r.patient_id}` : ''}</dd><dt>Reason given</dt><dd>${parts.justification ?? '—'}</dd><dt>Outcome</dt><dd>${r.outcome}</dd></dl>
<form method="post" action="/ig/reviews/${r.seq}">${csrfField(session)}
${select('outcome', 'Review outcome', REVIEW_OUTCOMES.map((o) => [o, o] as const), undefined, { required: true, any: 'choose…', id: `f-outcome-${r.seq}` })}
<div class="field"><label for="f-note-${r.seq}">Note <span class="hint">optional, kept in the audit trail</span></label><textarea id="f-note-${r.seq}" name="note" rows="3" maxlength="2000"></textarea></div>
<button type="submit">Mark reviewed</button></form></section>`;
})}`;
}

export function whatIfPage(session: IgWebSession, q: Partial<WhatIfQuestion>, answer?: WhatIfAnswer, error?: string): Html {
  return html`<p>Ask the gate what it would decide if an organisation read a class of a person's record for a purpose. Nothing is shared, opened or changed.</p>
${error ? html`<div class="error" role="alert">${error}</div>` : ''}
<form method="post" action="/ig/what-if">${csrfField(session)}
${input('actorOds', 'Organisation asking (ODS code)', q.actorOds, { required: true, hint: 'for example X9H01', autocomplete: 'off' })}
${select('purpose', 'Purpose of use', purposeOptions, q.purpose, { required: true })}
${input('nhsNumber', 'NHS number of the person', q.nhsNumber, { required: true, hint: '10 digits', inputmode: 'numeric', autocomplete: 'off' })}
${select('dataClass', 'Data class', DATA_CLASSES.map((c) => [c, c] as const), q.dataClass, { required: true })}
${input('role', 'User role (SDS job role code)', q.role ?? 'R8000', { required: true, hint: 'R8000 clinical practitioner, R1330 social worker' })}
<button type="submit">Ask the gate</button></form>
${answer ? whatIfAnswer(answer) : ''}`;
}

function whatIfAnswer(a: WhatIfAnswer): Html {
  if (a.kind === 'no-consent') {
    return html`<section aria-labelledby="h-answer" role="status"><h2 id="h-answer">Decision: no decision</h2><p>${a.reason === 'unknown-person' ? 'No person with this NHS number is known to this gateway.' : 'No organisation holds records about this person here.'}</p></section>`;
  }
  const d: Decision = a.verdict.decision;
  return html`<section aria-labelledby="h-answer" role="status"><h2 id="h-answer">Decision: <span class="${a.verdict.permitted ? 'permit' : 'deny'}">${a.verdict.permitted ? 'permit' : 'deny'}</span></h2>
<p>${d.explanation}</p>
<p class="small">Organisation kind as the gate sees it: ${a.actorKind}.${d.reliedOn.agreement ? ` Relied on agreement ${d.reliedOn.agreement.id} v${d.reliedOn.agreement.version}.` : ''}${d.reliedOn.consent ? ` Relied on ${d.reliedOn.consent}.` : ''}</p>
<h3>Rules fired</h3>
<ol>${d.rules.map((r) => html`<li><strong>${r.rule}</strong> ${RULE_TITLES[r.rule]} — <em>${r.effect}</em>: ${r.reason}${r.sources.length ? html`<div class="small">Sources: ${r.sources.map((s) => s.source).join('; ')}</div>` : ''}</li>`)}</ol>
<h3>Lawful basis</h3>
${
  d.lawfulBasis
    ? html`<dl class="kv">${Object.entries(d.lawfulBasis).map(([part, code]) => html`<dt>${BASIS_PARTS[part] ?? part}</dt><dd>${basisLabel(String(code))}</dd>`)}</dl>`
    : html`<p>None: nothing would be shared, so no lawful basis is relied on.</p>`
}
${d.obligations.length ? html`<p>Obligations: ${d.obligations.join(', ')}</p>` : ''}</section>`;
}

export function agreementsPage(list: readonly StoredAgreement[]): Html {
  const inForce = list.filter((a) => a.status === 'in-force');
  return html`<p>${inForce.length} sharing agreement${inForce.length === 1 ? '' : 's'} in force${list.length > inForce.length ? `; ${list.length - inForce.length} others ended, expired or not yet started are not shown` : ''}.</p>
${inForce.map(({ agreement: a }) => html`<section class="card" aria-labelledby="h-ag-${a.id}"><h2 id="h-ag-${a.id}">${a.title}</h2>
<dl class="kv"><dt>Identifier</dt><dd>${a.id} version ${a.version}</dd><dt>Parties</dt><dd>${a.parties.map((p) => `${p.name} (${p.ods})`).join('; ')}</dd>
<dt>Purposes</dt><dd>${a.purposes.map(purposeLabel).join('; ')}</dd><dt>Data classes</dt><dd>${a.dataClasses.join(', ')}</dd>
<dt>Lawful basis</dt><dd>${Object.entries(a.lawfulBasis).filter(([, v]) => typeof v === 'string').map(([, v]) => html`<div>${basisLabel(String(v))}</div>`)}${a.lawfulBasis.legalDuty ? html`<div>under a legal duty</div>` : ''}</dd>
<dt>Period</dt><dd>from ${a.period.start}${a.period.end ? ` to ${a.period.end}` : ', open-ended'}</dd></dl></section>`)}`;
}

export function errorBody(message: string): Html {
  return html`<div class="error" role="alert"><p>${message}</p></div><p><a href="/ig">Back to the overview</a></p>`;
}

export { raw };
