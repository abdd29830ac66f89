import type { Decision, RuleFiring } from '../types.ts';
import { deny, fire } from './outcome.ts';

/**
 * Rule 12, default deny: anything no rule permits is refused, with the
 * reason (UK GDPR Art 5(1)(a): processing must be lawful; the common law
 * duty of confidentiality needs a basis for every disclosure).
 */
export function defaultDeny(reason: string, supporting: readonly RuleFiring[] = []): Decision {
  return deny(fire('R12-default-deny', 'deny', reason), supporting);
}
