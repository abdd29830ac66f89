import type { ConsentVerdict } from '../consent-provisions.ts';
import type { LawfulBasis } from '../types.ts';
import type { Category } from './context.ts';
import { careBasis } from './outcome.ts';

/**
 * How each kind of data subject is answered for across organisations. The
 * wording and lawful basis live with each rule (capacity.ts, children.ts,
 * carer-data.ts, objection.ts); this is only the shape they share.
 */
export interface CategoryAnswer {
  /** Without an explicit permit, cross-organisation sharing is denied (rules 6, 7, 10); adults fall back to implied consent. */
  needsExplicitConsent: boolean;
  noConsent: string;
  refused(v: ConsentVerdict): string;
  permitted(v: ConsentVerdict): string;
  basis(directCare: boolean): LawfulBasis;
}

/** Explicit consent: the care basis, common law explicit consent; s251B only for direct care (HSCA 2012 s251B). */
export function explicitConsentBasis(directCare: boolean, s251bApplies: boolean): LawfulBasis {
  return careBasis(
    directCare && s251bApplies
      ? { commonLaw: 'explicit-consent', statutoryGateway: 'hsca-2012-s251b' }
      : { commonLaw: 'explicit-consent' },
  );
}

export type CategoryAnswers = Record<Category, CategoryAnswer>;
