import { agreementRule } from './rules/agreement.ts';
import { breakGlass } from './rules/break-glass.ts';
import { thirdPartyCarer } from './rules/carer-data.ts';
import { DIRECT_CARE, EMERGENCY, makeContext, ON_REQUEST, SAFEGUARDING, SECONDARY, type Ctx } from './rules/context.ts';
import { controllerWrite } from './rules/controller-write.ts';
import { defaultDeny } from './rules/default-deny.ts';
import { impliedConsent } from './rules/implied-consent.ts';
import { needToKnow } from './rules/need-to-know.ts';
import { optOut, ownOperationsPermit, secondaryPermit } from './rules/national-data-opt-out.ts';
import { consentBasis, consentStage } from './rules/objection.ts';
import { permit } from './rules/outcome.ts';
import { relationship } from './rules/relationship.ts';
import { safeguarding } from './rules/safeguarding.ts';
import type { Decision, GateQuery, Policy, RuleFiring } from './types.ts';

/**
 * The lawful-basis gate: one pure decision per exchange (legal-rules.md).
 * No I/O and no clock: everything arrives in the query and the policy, so the
 * same inputs always give the same decision.
 *
 * Precedence, in the order evaluated (the first rule to settle wins):
 *  1. writes: W-controller-write only (consent rules do not apply to a
 *     controller writing its own record; rule 9 never permits writes);
 *  2. a carer's details inside another person's record: the carer's consent
 *     (rule 7), across organisations;
 *  3. emergency ETREAT/BTG (rule 9), then safeguarding (rule 5): both beat
 *     objection and need no agreement or relationship;
 *  4. same organisation: need to know (rule 8) for care; own operations or an
 *     agreement for secondary uses (rule 11);
 *  5. across organisations: opt-out (rule 11), relationship (rule 2), consent
 *     and objection (rules 4, 6, 7, 10), agreement (rule 1), then implied
 *     consent (rule 3) or explicit consent;
 *  6. anything else: default deny (rule 12).
 */
export function decide(query: GateQuery, policy: Policy): Decision {
  const ctx = makeContext(query, policy);
  if (query.operation === 'write') {
    // A party other than the controller writes only what it may itself read: an agreement to share
    // does not let it overwrite what the person refused to share with it (rule 4 still binds).
    const readable = ctx.same || query.data.controller === undefined ? undefined : decide({ ...query, operation: 'read' }, policy);
    return controllerWrite(ctx, readable);
  }
  const supporting: RuleFiring[] = [];
  const carer = thirdPartyCarer(ctx);
  if (carer) {
    if ('outcome' in carer) return carer;
    supporting.push(carer);
  }
  if (EMERGENCY.includes(ctx.purpose)) return breakGlass(ctx, supporting);
  if (SAFEGUARDING.includes(ctx.purpose)) return safeguarding(ctx, supporting);
  return ctx.same ? sameOrganisation(ctx, supporting) : acrossOrganisations(ctx, supporting);
}

function sameOrganisation(ctx: Ctx, supporting: RuleFiring[]): Decision {
  if (DIRECT_CARE.includes(ctx.purpose)) return needToKnow(ctx, supporting);
  if (SECONDARY.includes(ctx.purpose)) {
    const opted = optOut(ctx, supporting);
    if (opted && 'outcome' in opted) return opted;
    const stage = consentStage(ctx, supporting);
    // Within the organisation only an objection stops a secondary use; no explicit consent is required.
    if (stage.kind === 'deny' && ctx.consent()?.effect === 'deny') return stage.decision;
    if (opted) return secondaryPermit(opted.legalDuty, true, supporting);
    if (ctx.purpose === 'HOPERAT') return ownOperationsPermit(supporting);
    const agreement = ctx.agreements()[0];
    if (agreement) return secondaryPermit(agreement, false, supporting);
    return defaultDeny('research or public health use within the organisation needs an agreement covering it, and none is in force', supporting);
  }
  if (ON_REQUEST.includes(ctx.purpose)) {
    const stage = consentStage(ctx, supporting);
    if (stage.kind === 'deny') return stage.decision;
    if (stage.kind === 'permit') {
      return permit(stage.firing, supporting, { basis: consentBasis(ctx), consent: stage.verdict.consent.ref });
    }
  }
  return defaultDeny('no rule permits this purpose', supporting);
}

function acrossOrganisations(ctx: Ctx, supporting: RuleFiring[]): Decision {
  const secondary = SECONDARY.includes(ctx.purpose);
  const direct = DIRECT_CARE.includes(ctx.purpose);
  if (!secondary && !direct && !ON_REQUEST.includes(ctx.purpose)) return defaultDeny('no rule permits this purpose', supporting);
  let legalDuty;
  if (secondary) {
    const opted = optOut(ctx, supporting);
    if (opted && 'outcome' in opted) return opted;
    legalDuty = opted?.legalDuty;
  }
  if (direct) {
    const rel = relationship(ctx, supporting);
    if ('outcome' in rel) return rel;
    supporting.push(rel);
  }
  const stage = consentStage(ctx, supporting);
  if (stage.kind === 'deny') return stage.decision;
  const consentPermit = stage.kind === 'permit' ? stage : undefined;
  const ag = agreementRule(ctx, supporting, direct && consentPermit !== undefined && consentPermit.verdict.namesActor);
  if ('outcome' in ag) return ag;
  if (secondary) {
    if (consentPermit) supporting.push(consentPermit.firing);
    return secondaryPermit(legalDuty ?? (ag.agreement as NonNullable<typeof ag.agreement>), legalDuty !== undefined, supporting);
  }
  supporting.push(ag.firing);
  if (consentPermit) {
    return permit(consentPermit.firing, supporting, {
      basis: consentBasis(ctx),
      consent: consentPermit.verdict.consent.ref,
      ...(ag.agreement ? { agreement: ag.agreement } : {}),
    });
  }
  return impliedConsent(supporting, ag.agreement);
}
