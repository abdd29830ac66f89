import type { CodeSystem, CodeSystemConcept } from '@medplum/fhirtypes';
import { RULE_SOURCES, RULE_TITLES } from './citations.ts';
import { LAWFUL_BASIS_DISPLAY, LAWFUL_BASIS_SYSTEM } from './lawful-basis-codes.ts';
import type { Obligation, RuleId } from './types.ts';

/**
 * Our CodeSystems for the gate's coded values, served at
 * /fhir/CodeSystem/{id}: the rules a decision names, the parts of a lawful
 * basis, the obligations and the outcomes. Built from the same constants the
 * engine uses, so the published definitions cannot drift from the code.
 */

const BASE = 'https://joinedup.org.uk/fhir/CodeSystem';
const VERSION = '1.0.0';

function codeSystem(id: string, url: string, title: string, description: string, concept: CodeSystemConcept[]): CodeSystem {
  return {
    resourceType: 'CodeSystem',
    id,
    url,
    version: VERSION,
    name: id.split('-').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(''),
    title,
    status: 'active',
    experimental: false,
    publisher: 'JoinedUp',
    description,
    caseSensitive: true,
    content: 'complete',
    count: concept.length,
    concept,
  };
}

const RULE_DEFINITIONS: Record<RuleId, string> = {
  'R1-agreement': 'Between different organisations, a sharing agreement in force covering the purpose and data class is required, unless safeguarding or an emergency applies or, for direct care, explicit consent names the requesting organisation.',
  'R2-relationship': 'For direct care (TREAT, CAREMGT) the requesting organisation must be the registered GP practice, in the care team, party to an open referral or a record holder.',
  'R3-implied-consent-direct-care': 'Direct care of an adult with capacity, with an agreement and a relationship and no objection, is permitted on implied consent.',
  'R4-objection': 'The most recent applicable consent decides; a deny provision beats a permit within one consent; an objection beats implied consent; an explicit permit is explicit consent.',
  'R5-safeguarding': 'Safeguarding with a justification (adults: an open s42 enquiry; children: s47) permits sharing without consent and despite an objection; flagged for review.',
  'R6-capacity': 'When the person lacks capacity, only an LPA attorney, deputy or recorded best-interests decision counts; without one, cross-organisation sharing is denied.',
  'R7-carer-data': "A carer's own data is shared across organisations only with the carer's own consent.",
  'R8-need-to-know': 'Within the organisation holding the record, colleagues may use it for care or to arrange services without fresh consent.',
  'R9-break-glass': 'Emergency treatment or break-glass with a justification permits a time-boxed, read-only access, flagged for review; never a write.',
  'R10-children': "A child's record is shared across organisations only with consent from a competent child or a person with parental responsibility; s251B does not apply.",
  'R11-national-data-opt-out': 'For purposes beyond individual care, an opted-out person is excluded (except public health under a legal duty); otherwise an agreement is required.',
  'R12-default-deny': 'Anything no rule permits is denied, with the reason.',
  'W-controller-write': 'A write is permitted to the record controller (or for a new record), or to a party to an agreement with the controller covering it; never under break-glass.',
};

export function gateRuleCodeSystem(): CodeSystem {
  const concept = (Object.keys(RULE_TITLES) as RuleId[]).map((code) => ({
    code,
    display: RULE_TITLES[code],
    definition: `${RULE_DEFINITIONS[code]} Sources: ${RULE_SOURCES[code].map((c) => c.source).join('; ')}.`,
  }));
  return codeSystem('gate-rule', `${BASE}/gate-rule`, 'JoinedUp gate rules', 'The rules of the lawful-basis gate; every decision names the rules that fired.', concept);
}

export function lawfulBasisCodeSystem(): CodeSystem {
  const concept = Object.entries(LAWFUL_BASIS_DISPLAY).map(([code, display]) => ({ code, display, definition: display }));
  return codeSystem('lawful-basis', LAWFUL_BASIS_SYSTEM, 'JoinedUp lawful basis parts', 'Parts of a lawful basis: UK GDPR Art 6 and Art 9(2), DPA 2018 Schedule 1 condition, common-law position, statutory gateway.', concept);
}

const OBLIGATIONS: Record<Obligation, [string, string]> = {
  'flag-for-review': ['Flag for IG review', 'Record the exchange for review by the information governance lead (safeguarding and break-glass overrides).'],
  'open-break-glass-window': ['Open a break-glass window', 'Record a break-glass window for this client, user, person and justification; reads within it are time-boxed (rule 9).'],
  'redact-third-party': ['Redact third-party data', 'Remove data about other people (e.g. a carer) before release.'],
  'read-only': ['Read only', 'The permission covers reading only; no write may rely on it.'],
};

export function gateObligationCodeSystem(): CodeSystem {
  const concept = (Object.keys(OBLIGATIONS) as Obligation[]).map((code) => ({ code, display: OBLIGATIONS[code][0], definition: OBLIGATIONS[code][1] }));
  return codeSystem('gate-obligation', `${BASE}/gate-obligation`, 'JoinedUp gate obligations', 'Obligations that come with a permit decision.', concept);
}

export function gateOutcomeCodeSystem(): CodeSystem {
  return codeSystem('gate-outcome', `${BASE}/gate-outcome`, 'JoinedUp gate outcomes', 'The outcome of a gate decision.', [
    { code: 'permit', display: 'Permit', definition: 'The exchange is permitted.' },
    { code: 'deny', display: 'Deny', definition: 'The exchange is refused; withheld data is invisible to the requester.' },
    { code: 'permit-withheld', display: 'Permit with parts withheld', definition: 'The exchange is permitted for some data classes or resources; the rest are withheld.' },
  ]);
}

export const GATE_CODE_SYSTEMS: CodeSystem[] = [gateRuleCodeSystem(), lawfulBasisCodeSystem(), gateObligationCodeSystem(), gateOutcomeCodeSystem()];
