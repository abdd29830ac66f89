import { z } from 'zod';

export const ORGANISATION_KINDS = ['gp-practice', 'nhs-trust', 'local-authority', 'voluntary', 'information-governance'] as const;
export type OrganisationKind = (typeof ORGANISATION_KINDS)[number];

/** ODS codes: 3 to 10 letters and digits (the same rule the validator applies). */
export const OdsCode = z.string().regex(/^[A-Z0-9]{3,10}$/, 'an ODS code is 3 to 10 capital letters and digits');

export const ODS_URI_PREFIX = 'https://fhir.nhs.uk/Id/ods-organization-code|';

export interface Organisation {
  ods: string;
  name: string;
  kind: OrganisationKind;
}
