import type { CapabilityStatementRestSecurity } from '@medplum/fhirtypes';
import type { RequestHandler } from 'express';
import { SUPPORTED_RESOURCE_TYPES } from '../fhir/resource-types.ts';
import type { GatewayKeys } from './gateway-keys.ts';

/** Where the token endpoint lives, relative to the gateway's base URL. */
export const TOKEN_PATH = '/auth/token';
export const JWKS_PATH = '/.well-known/jwks.json';

/**
 * SMART App Launch 2.x discovery (conformance/discovery): what a backend
 * service needs to get a token. Served at both /.well-known and
 * /fhir/.well-known, since clients look relative to the FHIR base.
 */
export function smartConfiguration(baseUrl: string): RequestHandler {
  const doc = {
    token_endpoint: `${baseUrl}${TOKEN_PATH}`,
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
    grant_types_supported: ['client_credentials'],
    capabilities: ['client-confidential-asymmetric'],
    scopes_supported: supportedScopes(),
    // Our own signing keys: lets a resource server sitting behind us check our tokens.
    jwks_uri: `${baseUrl}${JWKS_PATH}`,
  };
  const body = JSON.stringify(doc);
  return (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.type('application/json').send(body);
  };
}

/** The public halves of the keys our access tokens are signed with, including retired ones still in their grace period. */
export function jwksDocument(keys: GatewayKeys): RequestHandler {
  return async (_req, res, next) => {
    try {
      await keys.refreshIfStale();
      // Short: after a rotation, verifiers must see the new key quickly.
      res.setHeader('Cache-Control', 'public, max-age=60');
      res.type('application/json').send(JSON.stringify(keys.publicJwks()));
    } catch (err) {
      next(err);
    }
  };
}

/** Wildcard and per-type scopes in the two shapes most clients ask for: everything, or read and search. */
function supportedScopes(): string[] {
  return ['*', ...SUPPORTED_RESOURCE_TYPES].flatMap((t) => [`system/${t}.cruds`, `system/${t}.rs`]);
}

/**
 * CapabilityStatement.rest.security: how to get in. In smart mode it names
 * SMART Backend Services and carries the token URL in the extension SMART
 * clients look for; in open-development mode it says loudly that there is no
 * authentication at all.
 */
export function capabilitySecurity(mode: 'smart' | 'open-development', baseUrl: string): CapabilityStatementRestSecurity {
  if (mode === 'open-development') {
    return { description: 'OPEN DEVELOPMENT MODE: no authentication. Do not load real personal data.' };
  }
  const tokenUrl = `${baseUrl}${TOKEN_PATH}`;
  return {
    extension: [{ url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris', extension: [{ url: 'token', valueUri: tokenUrl }] }],
    service: [
      {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR', display: 'SMART-on-FHIR' }],
        text: 'SMART Backend Services',
      },
    ],
    description:
      `SMART Backend Services (client_credentials grant, private_key_jwt client assertions signed RS384 or ES384, SMART v2 system scopes). ` +
      `Token endpoint: ${tokenUrl}. Discovery: ${baseUrl}/.well-known/smart-configuration. ` +
      'The client assertion carries the request context (organisation, user, role, purpose of use) as the HL7 FAST hl7-b2b extension.',
  };
}
