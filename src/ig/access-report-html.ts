import { PURPOSES } from '../auth/purposes.ts';
import { ART6, ART9, COMMON_LAW, DPA_SCHEDULE1, STATUTORY_GATEWAY } from '../gate/lawful-basis-codes.ts';
import type { AccessEntry } from './access-report.ts';

/** Everything put into the page goes through this: values include what users typed (justifications). */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"'`=]/g, (c) => `&#${c.charCodeAt(0)};`);
}

const BASIS_LABELS: Record<string, string> = { ...ART6, ...ART9, ...DPA_SCHEDULE1, ...COMMON_LAW, ...STATUTORY_GATEWAY };
const ACTIONS: Record<string, string> = { C: 'created', R: 'read', U: 'updated', D: 'deleted', E: 'searched or queried' };
const OUTCOMES: Record<string, string> = {
  permit: 'shared',
  'permit-withheld': 'shared in part (some information withheld)',
  deny: 'refused: nothing shared',
  error: 'failed: nothing shared',
};

// Inline only: the page must print and open offline, and the CSP below forbids fetching anything.
const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#111}
h1{font-size:1.5em;margin:0 0 .2em} p.meta{color:#444;margin:.2em 0}
table{border-collapse:collapse;width:100%;margin-top:1em}
th,td{border:1px solid #999;padding:.3em .4em;vertical-align:top;text-align:left}
th{background:#eee} tr.override td{background:#fff6e0}
.small{font-size:.85em;color:#333}
@media print{body{margin:0;font-size:10pt} th{background:#ddd !important;-webkit-print-color-adjust:exact;print-color-adjust:exact}
 tr{page-break-inside:avoid} thead{display:table-header-group} .noprint{display:none}}
@page{size:A4 landscape;margin:12mm}`;

export const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface ReportHeading {
  patientIds: readonly string[];
  generatedAt: Date;
  generatedBy: string;
}

/**
 * The person's access report as one self-contained printable page: who
 * accessed their record, when, from which organisation, what kinds of
 * information, why (purpose), on what lawful basis, the outcome, and any
 * emergency or safeguarding override with its review.
 */
export function accessReportHtml(h: ReportHeading, entries: readonly AccessEntry[]): string {
  const e = escapeHtml;
  const rows = entries.map((x) => {
    const basis = x.lawfulBasis.map((c) => `<div>${e(BASIS_LABELS[c] ?? c)}</div>`).join('');
    const rules = x.rules.length ? `<div class="small">rules: ${e(x.rules.join(', '))}</div>` : '';
    const purpose = x.purpose ? `${e(PURPOSES[x.purpose as keyof typeof PURPOSES]?.display ?? x.purpose)} <span class="small">(${e(x.purpose)})</span>` : '';
    const override = x.override
      ? `<div><strong>${e(x.override)}</strong></div>${x.justification ? `<div class="small">reason given: ${e(x.justification)}</div>` : ''}` +
        `<div class="small">${x.review ? `reviewed ${e(x.review.recorded)}${x.review.outcome ? `: ${e(x.review.outcome)}` : ''}` : 'awaiting review'}</div>`
      : '';
    return (
      `<tr${x.override ? ' class="override"' : ''}><td>${e(x.recorded)}</td><td>${e(x.organisation ?? '')}</td>` +
      `<td>${e(x.user ?? '')}${x.role ? `<div class="small">role ${e(x.role)}</div>` : ''}</td>` +
      `<td>${e(ACTIONS[x.action] ?? x.action)}<div class="small">${e(x.resourceTypes.join(', '))}</div></td>` +
      `<td>${purpose}</td><td>${basis}${rules}</td><td>${e(OUTCOMES[x.outcome] ?? x.outcome)}</td><td>${override}</td></tr>`
    );
  });
  return `<!DOCTYPE html>
<html lang="en-GB"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>Access report</title><style>${STYLE}</style></head>
<body>
<h1>Who has accessed this record</h1>
<p class="meta">Record reference${h.patientIds.length > 1 ? 's' : ''}: ${h.patientIds.map((id) => e(`Patient/${id}`)).join(', ')}</p>
<p class="meta">Produced ${e(h.generatedAt.toISOString())} by ${e(h.generatedBy)} from the JoinedUp audit trail (append-only and hash-chained).</p>
<p class="meta">${entries.length} recorded access${entries.length === 1 ? '' : 'es'}, oldest first. Refused requests are listed too: nothing was shared in them.</p>
<table><thead><tr><th>When (UTC)</th><th>Organisation (ODS)</th><th>User</th><th>What</th><th>Why (purpose)</th><th>Lawful basis</th><th>Outcome</th><th>Override</th></tr></thead>
<tbody>
${rows.join('\n') || '<tr><td colspan="8">No access to this record has been recorded.</td></tr>'}
</tbody></table>
</body></html>
`;
}
