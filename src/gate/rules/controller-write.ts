import type { Decision } from '../types.ts';
import { EMERGENCY, type Ctx } from './context.ts';
import { agreementLabel, careBasis, deny, fire, permit } from './outcome.ts';

/**
 * Writes (council pushes, referrals, FHIR writes) — legal-rules.md "Writes":
 * a push is refused unless the pushing organisation is the record's
 * controller, or a party (with the controller) to an agreement covering the
 * purpose and data class. A controller writing its own record processes under
 * UK GDPR Art 6(1)(e) + Art 9(2)(h) with DPA 2018 Sch 1 Pt 1 para 2; consent
 * and objection rules do not apply to it (nothing is disclosed). Rule 9
 * never permits writes, so ETREAT/BTG writes are refused first. A party
 * other than the controller must also be one that may read the record
 * (`readable`): overwriting is at least as intrusive as reading, so a
 * relationship and the person's objections (rules 2, 4) bind writes too.
 */
export function controllerWrite(ctx: Ctx, readable?: Decision): Decision {
  const { q } = ctx;
  if (EMERGENCY.includes(ctx.purpose)) {
    return deny(fire('W-controller-write', 'deny', 'writes are never permitted under an emergency or break-glass purpose'), [
      fire('R9-break-glass', 'deny', 'break-glass permits a time-boxed read only, never a write'),
    ]);
  }
  const controller = q.data.controller;
  if (controller === undefined) {
    return permit(fire('W-controller-write', 'permit', 'a new record: the writing organisation becomes its controller'), [], {
      basis: careBasis(),
    });
  }
  if (ctx.same) {
    return permit(fire('W-controller-write', 'permit', 'the writing organisation is the controller of the record'), [], {
      basis: careBasis(),
    });
  }
  const agreement = ctx.agreements()[0];
  if (agreement && readable && readable.outcome !== 'permit') {
    return deny(
      fire('W-controller-write', 'deny', `the writing organisation may not read this record (${readable.rules[0]?.rule ?? 'R12-default-deny'}), so it may not overwrite it, agreement or not`),
      readable.rules,
    );
  }
  if (agreement) {
    return permit(
      fire('W-controller-write', 'permit', `the writing organisation and the controller are parties to ${agreementLabel(agreement)} covering this purpose and data class`),
      [fire('R1-agreement', 'condition', `${agreementLabel(agreement)} is in force`)],
      { basis: careBasis(), agreement },
    );
  }
  return deny(
    fire('W-controller-write', 'deny', 'the writing organisation is not the controller of the record and no agreement in force covers this write'),
  );
}
