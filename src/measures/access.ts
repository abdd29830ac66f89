import { allows } from '../auth/scopes.ts';
import { httpError } from '../http/outcome.ts';
import type { RequestContext } from '../request-context.ts';

/**
 * SDS job role codes (UK Core SDSJobRoleName) that count as managers for the
 * joint working measures: people who run a service, team or organisation and
 * answer for its joint working. Practitioners who hold cases (including the
 * social services "Care Manager" roles R9525, R9575, R9595, which are care
 * management casework, not line management) are not on it; nor are the
 * governance roles, whose organisations are the IG kind below.
 */
export const MANAGER_JOB_ROLES: ReadonlySet<string> = new Set([
  'R1780', // Manager
  'R1790', // Senior Manager
  'R1920', // Chief Executive
  'R1940', // Other Executive Director
  'R1950', // Board Level Director
  'R0560', // Director of Nursing
  'R0580', // Nurse Manager
  'R8002', // Nurse Manager Access Role
  'R1972', // Clinical Team Manager
  'R1976', // Community Team Manager
  'R1983', // Ward Manager
  'R6040', // Bed Manager (discharge flow)
  'R0970', // Occupational Therapist Manager
  'R1130', // Physiotherapist Manager
  'R9500', // Social Services Senior Management
  'R9510', // Social Services Information Manager
  'R9560', // Occupational Therapy Team Manager
  'R9565', // Social Work Team Manager (Adults)
  'R9585', // Social Work Team Manager (Mental Health)
  'R9730', // Intermediate Care Manager
]);

/**
 * Who may evaluate the measures, and for which organisation. They are
 * aggregate, but they show how an organisation performs, so: information
 * governance organisations for any organisation (or all together), and
 * managers for their own organisation only (by default). Everyone else: 403.
 * The token must also allow reading Measure (system/Measure.r or wider) or,
 * for IG clients, the IG API (system/ig.read).
 */
export function measuredOrganisation(context: RequestContext, requested: string | undefined): string | undefined {
  const actor = context.actor;
  if (!actor || context.authMode !== 'smart') throw httpError(403, 'forbidden', 'Measures need an authenticated client');
  const ig = actor.organisation.kind === 'information-governance';
  if (!allows(actor.scopes, 'Measure', 'r') && !(ig && allows(actor.scopes, 'ig', 'r'))) {
    throw httpError(403, 'forbidden', "The access token's scopes do not allow this: it needs system/Measure.read (or system/ig.read for an IG client)");
  }
  if (ig) return requested;
  if (!MANAGER_JOB_ROLES.has(actor.user.role)) {
    throw httpError(403, 'forbidden', 'Joint working measures are for information governance organisations and managers (SDS job roles listed in docs/measures.md) only');
  }
  if (requested && requested !== actor.organisation.ods) {
    throw httpError(403, 'forbidden', "A manager may evaluate measures for their own organisation only", ['organization']);
  }
  return actor.organisation.ods;
}
