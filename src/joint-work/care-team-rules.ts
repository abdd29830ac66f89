import type { CareTeam, CareTeamParticipant, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { ROLE_SYSTEM } from './codes.ts';
import { jointWorkRoles } from './request-kinds.ts';

/**
 * Care team roles for joint work (issue #7 item 3; seed 001 "Agree tasks and
 * functions": who is the person's primary contact, who chairs, who keeps the
 * minutes, who records formal reports). A CareTeam that uses our
 * joint-work-role CodeSystem, and is not inactive or entered in error, must:
 *  - give every current participant a joint-work role, each code one of the CodeSystem's;
 *  - give every participant with a joint-work role a period (period.start);
 *  - have exactly one current primary contact, and at most one current chair
 *    and one current minute-taker.
 * Current: the participant's period has not ended (no end, or end today or
 * later, as an English calendar date). Members may come from several organisations.
 */

const SINGLE_HOLDER = ['chair', 'minute-taker'] as const;

function err(code: OperationOutcomeIssue['code'], text: string, expression: string[]): OperationOutcomeIssue {
  return { severity: 'error', code, details: { text }, expression };
}

function rolesOf(p: CareTeamParticipant): { code: string | undefined; j: number }[] {
  return (p.role ?? []).flatMap((cc, j) => (cc.coding ?? []).filter((c) => c.system === ROLE_SYSTEM).map((c) => ({ code: c.code, j })));
}

export function usesJointWorkRoles(team: CareTeam): boolean {
  return (team.participant ?? []).some((p) => rolesOf(p).length > 0);
}

export function checkCareTeam(team: CareTeam, today: string): OperationOutcomeIssue[] {
  if (!usesJointWorkRoles(team) || team.status === 'inactive' || team.status === 'entered-in-error') return [];
  const known = jointWorkRoles();
  const issues: OperationOutcomeIssue[] = [];
  const holders = new Map<string, number[]>();
  (team.participant ?? []).forEach((p, i) => {
    const at = `CareTeam.participant[${i}]`;
    const roles = rolesOf(p);
    const end = p.period?.end;
    const current = !end || end.slice(0, 10) >= today;
    for (const r of roles) {
      if (!r.code || !known.has(r.code)) {
        issues.push(err('code-invalid', `"${r.code ?? ''}" is not a joint-work role (CodeSystem joint-work-role: ${[...known.keys()].join(', ')})`, [`${at}.role[${r.j}]`]));
      }
    }
    if (roles.length && !p.period?.start) {
      issues.push(err('required', 'Each member with a joint-work role has a period: the date they took the role (period.start)', [`${at}.period`]));
    }
    if (!current) return;
    if (!roles.length) {
      issues.push(err('required', `A care team for joint work gives every current member a role from CodeSystem joint-work-role (${[...known.keys()].join(', ')})`, [`${at}.role`]));
    }
    for (const code of new Set(roles.map((r) => r.code ?? ''))) holders.set(code, [...(holders.get(code) ?? []), i]);
  });
  const primaries = holders.get('primary-contact') ?? [];
  if (primaries.length === 0) {
    issues.push(err('required', 'A care team for joint work has exactly one current primary contact (joint-work-role primary-contact); it has none', ['CareTeam.participant']));
  } else if (primaries.length > 1) {
    issues.push(
      err(
        'business-rule',
        `A care team for joint work has exactly one current primary contact; ${primaries.length} current members are primary contact (end the period of all but one)`,
        primaries.map((i) => `CareTeam.participant[${i}]`)
      )
    );
  }
  for (const role of SINGLE_HOLDER) {
    const h = holders.get(role) ?? [];
    if (h.length > 1) {
      issues.push(err('business-rule', `At most one current member is ${role}; ${h.length} are`, h.map((i) => `CareTeam.participant[${i}]`)));
    }
  }
  return issues;
}
