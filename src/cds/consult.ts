import { decide } from '../gate/decide.ts';
import type { DataClass, Decision, PersonFacts, Policy, Requester } from '../gate/types.ts';

/**
 * Puts one consent question to the pure engine. The question is the one the
 * FHIR API would face if the actor read the person's record: for each data
 * class, each Patient record of the person and each organisation holding
 * records about them (the controller) is decided once, as a read. A class is
 * released when some controller's decision permits it (the FHIR API would
 * return that controller's rows); with several purposes asked together, a
 * class is released only when every purpose permits it, since the exchange
 * would serve all of them. No I/O here, so it is tested like the engine.
 */

/** The rules decide on the data class, never the resource type; this stands for "any resource of the class". */
const CLASS_PROBE = 'Resource';

export interface ClassVerdict {
  dataClass: DataClass;
  permitted: boolean;
  /** The decision that settled the class: a permit when released, else the first denial. */
  decision: Decision;
}

export type ConsultResult =
  | { kind: 'no-consent'; reason: 'unknown-person' | 'no-records' }
  | { kind: 'decided'; classes: ClassVerdict[] };

export interface ConsultInput {
  /** Facts of every Patient record found for the identifiers asked about. */
  people: readonly PersonFacts[];
  /** One requester per purpose asked. */
  requesters: readonly Requester[];
  classes: readonly DataClass[];
  policy: Policy;
  now: Date;
}

export function consult(input: ConsultInput): ConsultResult {
  if (!input.people.length) return { kind: 'no-consent', reason: 'unknown-person' };
  const pairs = input.people.flatMap((person) => [...new Set(person.recordHolders)].sort().map((controller) => ({ person, controller })));
  // A Patient with nothing controlled by anyone cannot be read through the gate at all: nothing to decide on.
  if (!pairs.length) return { kind: 'no-consent', reason: 'no-records' };
  const classes = input.classes.map((dataClass) => {
    let verdict: ClassVerdict | undefined;
    for (const requester of input.requesters) {
      const decisions = pairs.map(({ person, controller }) =>
        decide({ requester, operation: 'read', person, data: { resourceType: CLASS_PROBE, dataClass, controller }, now: input.now }, input.policy)
      );
      const permit = decisions.find((d) => d.outcome === 'permit');
      if (!permit) return { dataClass, permitted: false, decision: mostTelling(decisions) };
      verdict ??= { dataClass, permitted: true, decision: permit };
    }
    return verdict as ClassVerdict;
  });
  return { kind: 'decided', classes };
}

/**
 * Among denials, the one that says most: a rule about this person (their
 * objection, capacity, age, opt-out) over a missing agreement or relationship,
 * and either over the bare default deny.
 */
function mostTelling(decisions: readonly Decision[]): Decision {
  const weight = (d: Decision): number => {
    const rule = d.rules[0]?.rule;
    if (rule === 'R12-default-deny') return 0;
    if (rule === 'R1-agreement' || rule === 'R2-relationship') return 1;
    return 2;
  };
  return decisions.reduce((best, d) => (weight(d) > weight(best) ? d : best));
}
