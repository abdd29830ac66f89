import { HOOK } from './request-schema.ts';

/**
 * The CDS Hooks discovery document: one service, as LEAP's Consent Decision
 * Service lists it. No prefetch: the gateway holds the facts it decides on,
 * so a client sends only identifiers and codes, never the record.
 */
export const CDS_SERVICES_PATH = '/cds-services';
export const CONSULT_PATH = `${CDS_SERVICES_PATH}/${HOOK}`;

export interface CdsServiceDefinition {
  hook: string;
  id: string;
  title: string;
  description: string;
  prefetch: Record<string, string>;
}

export function discoveryDocument(): { services: CdsServiceDefinition[] } {
  return {
    services: [
      {
        hook: HOOK,
        id: HOOK,
        title: 'JoinedUp consent decision (lawful-basis gate)',
        description:
          'Answers whether an organisation may read a person\'s social care record for a purpose, and which data classes it would receive, ' +
          'with CONSENT_PERMIT / CONSENT_DENY / NO_CONSENT cards in the shape of HL7 LEAP\'s Consent Decision Service, the obligations that ' +
          'come with a permit, what the decision relied on and its UK GDPR / DPA 2018 lawful basis. Information-governance clients may ask "what if" for any organisation.',
        prefetch: {},
      },
    ],
  };
}
