import { html, raw } from './html.ts';
import type { Html } from './html.ts';
import type { DayCount } from './queries.ts';

const W = 600;
const H = 180;
const TOP = 10;
const BOTTOM = 24;
const LEFT = 36;
const SHOWN = '#0b3d6e';
const REFUSED = '#991b1b';

/**
 * Exchanges per day as a server-rendered SVG bar chart (no script, no
 * external file: the CSP allows neither) with its text alternative, and the
 * same numbers as a table. Each bar: refused (outcome deny) at the bottom,
 * the rest above; the legend and table say which is which, so colour is not
 * the only way to tell.
 */
export function exchangesOverTime(days: readonly DayCount[]): Html {
  const max = Math.max(1, ...days.map((d) => d.total));
  const total = days.reduce((t, d) => t + d.total, 0);
  const denied = days.reduce((t, d) => t + d.denied, 0);
  const busiest = days.reduce((a, d) => (d.total > a.total ? d : a), days[0] ?? { day: '', total: 0, denied: 0 });
  const plotH = H - TOP - BOTTOM;
  const slot = (W - LEFT) / Math.max(1, days.length);
  const y = (n: number) => TOP + plotH - (n / max) * plotH;
  const first = days[0]?.day ?? '';
  const last = days[days.length - 1]?.day ?? '';
  const summary = total
    ? `${total} exchanges from ${first} to ${last}, ${denied} of them refused; the busiest day was ${busiest.day} with ${busiest.total}.`
    : `No exchanges from ${first} to ${last}.`;
  const bars = days.map((d, i) => {
    const x = (LEFT + i * slot + slot * 0.15).toFixed(1);
    const w = (slot * 0.7).toFixed(1);
    const shown = d.total - d.denied;
    return html`<g><title>${d.day}: ${d.total} exchange${d.total === 1 ? '' : 's'}, ${d.denied} refused</title>${
      shown > 0 ? raw(`<rect x="${x}" y="${y(d.total).toFixed(1)}" width="${w}" height="${((shown / max) * plotH).toFixed(1)}" fill="${SHOWN}"/>`) : ''
    }${d.denied > 0 ? raw(`<rect x="${x}" y="${y(d.denied).toFixed(1)}" width="${w}" height="${((d.denied / max) * plotH).toFixed(1)}" fill="${REFUSED}"/>`) : ''}</g>`;
  });
  const axis = raw(
    `<line x1="${LEFT}" y1="${TOP + plotH}" x2="${W}" y2="${TOP + plotH}" stroke="#374151"/>` +
      `<text x="${LEFT - 4}" y="${TOP + 8}" text-anchor="end" font-size="11" fill="#0b0c0c">${max}</text>` +
      `<text x="${LEFT - 4}" y="${TOP + plotH}" text-anchor="end" font-size="11" fill="#0b0c0c">0</text>`
  );
  return html`<section class="card chart" aria-labelledby="h-days"><h2 id="h-days">Exchanges per day</h2>
<svg viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="chart-title chart-desc" focusable="false"><title id="chart-title">Exchanges per day, last ${days.length} days</title><desc id="chart-desc">${summary}</desc>
${axis}${bars}
<text x="${LEFT}" y="${H - 6}" font-size="11" fill="#0b0c0c">${first}</text><text x="${W}" y="${H - 6}" font-size="11" text-anchor="end" fill="#0b0c0c">${last}</text></svg>
<p class="small"><span class="key shown"></span> shared or answered <span class="key refused"></span> refused by the gate (UTC days). ${summary}</p>
<details><summary>The numbers, day by day</summary>
<div class="scroll"><table><caption class="small">Exchanges per day (UTC)</caption><thead><tr><th scope="col">Day</th><th scope="col">Exchanges</th><th scope="col">Refused</th></tr></thead>
<tbody>${days.map((d) => html`<tr><td>${d.day}</td><td>${d.total}</td><td>${d.denied}</td></tr>`)}</tbody></table></div></details></section>`;
}
