import type { PurposeOfUse } from './auth/purposes.ts';
import type { OrganisationKind } from './auth/organisation.ts';
import type { GrantedScope } from './auth/scopes.ts';

/**
 * Who is asking, for whom and why: built once by the auth layer from the
 * verified access token and passed down. Nothing downstream of auth reads
 * headers or tokens; the gate decides on exactly these fields.
 */
export interface RequestContext {
  readonly requestId: string;
  /** 'smart' in normal operation; 'open-development' only when an operator opts in (no authentication). */
  readonly authMode: 'open-development' | 'smart';
  /** Present whenever authMode is 'smart'. */
  readonly actor?: Actor;
}

export interface Actor {
  readonly clientId: string;
  readonly organisation: { readonly ods: string; readonly name: string; readonly kind: OrganisationKind };
  /** The end user (HL7 FAST B2B subject_id / subject_name / subject_role). */
  readonly user: { readonly id: string; readonly name?: string; readonly role: string };
  readonly purposeOfUse: PurposeOfUse;
  readonly justification?: string;
  readonly consentReference?: string;
  readonly scopes: readonly GrantedScope[];
  /** The access token's jti, so audit can tie a request to the token that carried it. */
  readonly tokenId: string;
}
