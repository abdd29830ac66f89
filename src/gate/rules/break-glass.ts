import { createHash } from 'node:crypto';
import type { Decision, RuleFiring } from '../types.ts';
import { hasJustification, type Ctx } from './context.ts';
import { deny, fire, permit } from './outcome.ts';

/**
 * Rule 9, emergency / break-glass (ETREAT, BTG): with a justification, a
 * time-boxed read when the person cannot consent and life is at risk.
 * UK GDPR Art 6(1)(d) and Art 9(2)(c) (vital interests); common law:
 * overriding public interest. Always flagged for IG review; read-only; never
 * a write (writes are refused in controller-write.ts).
 *
 * The time box is per client, user and justification: the first declaration
 * opens a window (the enforcement point records it when it sees the
 * 'open-break-glass-window' obligation); once policy.breakGlassWindowMs has
 * passed the same declaration no longer works and a new one is needed.
 * Hashing the justification is pure computation, not I/O.
 */

export function justificationHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

const BASIS = { art6: 'art6-1-d', art9: 'art9-2-c', commonLaw: 'overriding-public-interest' } as const;

export function breakGlass(ctx: Ctx, supporting: readonly RuleFiring[]): Decision {
  const { q } = ctx;
  if (!hasJustification(q)) {
    return deny(fire('R9-break-glass', 'deny', 'an emergency or break-glass request needs a justification'), supporting);
  }
  const hash = justificationHash(q.requester.justification as string);
  let openedAt = -Infinity;
  for (const w of q.person.breakGlass) {
    if (w.clientId !== q.requester.clientId || w.userId !== q.requester.userId || w.justificationHash !== hash) continue;
    const ms = Date.parse(w.openedAt);
    if (ms > openedAt) openedAt = ms;
  }
  if (openedAt === -Infinity) {
    return permit(fire('R9-break-glass', 'permit', 'emergency access declared with a justification: a time-boxed, read-only window opens and is flagged for review'), supporting, {
      basis: { ...BASIS },
      obligations: ['flag-for-review', 'read-only', 'open-break-glass-window'],
    });
  }
  if (ctx.nowMs < openedAt + ctx.policy.breakGlassWindowMs) {
    return permit(fire('R9-break-glass', 'permit', 'within the open break-glass window for this user and declaration; read-only and flagged for review'), supporting, {
      basis: { ...BASIS },
      obligations: ['flag-for-review', 'read-only'],
    });
  }
  return deny(fire('R9-break-glass', 'deny', 'break-glass window expired; a new declaration is needed'), supporting);
}
