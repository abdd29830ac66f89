import type { Coding, Consent, ConsentProvision, Extension } from '@medplum/fhirtypes';
import { isPurposeOfUse } from '../../auth/purposes.ts';
import type { PurposeOfUse } from '../../auth/purposes.ts';
import { DATA_CLASSES } from '../types.ts';
import type { ConsentAuthority, ConsentFact, ConsentProvisionFact, DataClass } from '../types.ts';

/**
 * Reads a stored FHIR Consent into the gate's ConsentFact. Only privacy
 * consents (scope patient-privacy) in status active are facts: a refusal is
 * an active Consent with a deny provision (ADR 0008), so "inactive" never
 * hides an objection. Anything we cannot read safely is dropped, never
 * guessed: a provision naming a purpose or class we do not know still counts
 * as a provision, but matches nothing of ours, which errs towards the person's
 * stated limits (its deny or permit then applies to nothing we serve).
 */
const EXT = 'https://joinedup.org.uk/fhir/StructureDefinition/';
const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';
const AUTHORITIES: ReadonlySet<string> = new Set(['person', 'lpa-health-welfare', 'deputy', 'best-interests', 'parental-responsibility']);
const CLASSES: ReadonlySet<string> = new Set(DATA_CLASSES);

export function consentFact(c: Consent): ConsentFact | undefined {
  if (c.status !== 'active' || !c.id) return undefined;
  if (!c.scope?.coding?.some((x) => x.code === 'patient-privacy')) return undefined;
  const provisions: ConsentProvisionFact[] = [];
  if (c.provision) flatten(c.provision, provisions, undefined);
  const authorityCode = c.policyRule?.coding?.find((x) => x.system?.endsWith('/consent-authority'))?.code;
  const decisionCode = ext(c.extension, 'consent-decision')?.valueCode;
  const fact: ConsentFact = {
    ref: `Consent/${c.id}`,
    dateTime: c.dateTime ?? c.meta?.lastUpdated ?? '1970-01-01',
    decision: decisionCode === 'refused' || decisionCode === 'withdrawn' ? decisionCode : provisions[0]?.type === 'deny' ? 'refused' : 'given',
    authority: authorityCode && AUTHORITIES.has(authorityCode) ? (authorityCode as ConsentAuthority) : 'person',
    provisions,
  };
  if (c.provision?.period) fact.period = { start: c.provision.period.start, end: c.provision.period.end };
  const capacity = ext(c.extension, 'mental-capacity');
  const has = capacity?.extension?.find((e) => e.url === 'hasCapacity')?.valueBoolean;
  if (has !== undefined) {
    fact.capacity = { hasCapacity: has, assessedOn: capacity?.extension?.find((e) => e.url === 'assessedOn')?.valueDate };
  }
  return fact;
}

function ext(list: Extension[] | undefined, name: string): Extension | undefined {
  return list?.find((e) => e.url === `${EXT}${name}`);
}

/** Nested provisions inherit their parent's type when they state none (R4 Consent.provision.type is optional). */
function flatten(p: ConsentProvision, out: ConsentProvisionFact[], parentType: 'permit' | 'deny' | undefined): void {
  const type = p.type ?? parentType ?? 'permit';
  const fact: ConsentProvisionFact = {
    type,
    actors: (p.actor ?? []).flatMap((a) => (a.reference.identifier?.system === ODS && a.reference.identifier.value ? [a.reference.identifier.value] : [])),
    purposes: codes(p.purpose, isPurposeOfUse) as PurposeOfUse[],
    classes: codes(p.class, (x): x is DataClass => CLASSES.has(x)) as DataClass[],
  };
  if (p.period) fact.period = { start: p.period.start, end: p.period.end };
  // An actor we cannot identify by ODS code must not widen the provision to "any organisation".
  if ((p.actor?.length ?? 0) > 0 && fact.actors.length === 0) fact.actors = ['(unidentified)'];
  markUnknown(fact, p);
  out.push(fact);
  for (const child of p.provision ?? []) flatten(child, out, type);
}

function codes<T extends string>(list: Coding[] | undefined, known: (c: string) => c is T): string[] {
  return (list ?? []).flatMap((c) => (c.code && known(c.code) ? [c.code] : []));
}

/** A provision listing only purposes or classes we do not know applies to none of ours, not to all. */
function markUnknown(fact: ConsentProvisionFact, p: ConsentProvision): void {
  if ((p.purpose?.length ?? 0) > 0 && fact.purposes.length === 0) fact.purposes = ['(unknown)' as PurposeOfUse];
  if ((p.class?.length ?? 0) > 0 && fact.classes.length === 0) fact.classes = ['(unknown)' as DataClass];
}
