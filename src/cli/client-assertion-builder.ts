import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import type { JsonWebKey, KeyObject } from 'node:crypto';
import { ODS_URI_PREFIX } from '../auth/organisation.ts';

/**
 * Builds the client side of SMART Backend Services: a private_key_jwt client
 * assertion (RFC 7523) carrying the requester's context in the HL7 FAST
 * (UDAP) B2B extension. Signed with node:crypto rather than node-jose, so
 * the gateway's verifier is exercised by an independent implementation, and
 * because the benchmark signs thousands of these.
 */
export interface AssertionContext {
  clientId: string;
  /** The token endpoint URL exactly as the gateway advertises it (the aud). */
  tokenUrl: string;
  ods: string;
  user: { id: string; name?: string | undefined; role: string };
  purpose: string;
  justification?: string | undefined;
  consentReference?: string | undefined;
  /** Seconds the assertion is valid for; SMART asks for at most 300, 60 is plenty. */
  lifetimeSeconds?: number;
}

export interface SigningKey {
  key: KeyObject;
  alg: 'ES384' | 'RS384';
  kid: string;
}

/** Loads a private JWK (as `joinedup keys generate` writes it) for signing. */
export function signingKeyFromJwk(jwk: Record<string, unknown>): SigningKey {
  if (typeof jwk.d !== 'string') throw new Error('not a private key (no "d"): give the private JWK, not the public JWKS');
  if (typeof jwk.kid !== 'string' || !jwk.kid) throw new Error('the private JWK has no "kid"; the gateway finds the public key by kid');
  let alg: SigningKey['alg'];
  if (jwk.kty === 'EC' && jwk.crv === 'P-384') alg = 'ES384';
  else if (jwk.kty === 'RSA') alg = 'RS384';
  else throw new Error('unsupported key: use an EC P-384 (ES384) or RSA (RS384) key');
  if (jwk.alg !== undefined && jwk.alg !== alg) throw new Error(`the key says alg ${String(jwk.alg)}, but only ${alg} fits it`);
  return { key: createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' }), alg, kid: jwk.kid };
}

/** The signed compact JWS, with a fresh random jti each call. */
export function buildClientAssertion(signer: SigningKey, ctx: AssertionContext, now = Math.floor(Date.now() / 1000)): string {
  const b2b: Record<string, unknown> = {
    version: '1',
    organization_id: `${ODS_URI_PREFIX}${ctx.ods}`,
    subject_id: ctx.user.id,
    subject_role: ctx.user.role,
    purpose_of_use: [ctx.purpose],
  };
  if (ctx.user.name) b2b.subject_name = ctx.user.name;
  if (ctx.justification) b2b.justification = ctx.justification;
  if (ctx.consentReference) b2b.consent_reference = ctx.consentReference;
  const claims = {
    iss: ctx.clientId,
    sub: ctx.clientId,
    aud: ctx.tokenUrl,
    iat: now,
    exp: now + (ctx.lifetimeSeconds ?? 60),
    jti: randomUUID(),
    extensions: { 'hl7-b2b': b2b },
  };
  return signJwt(signer, claims);
}

export function signJwt(signer: SigningKey, claims: object): string {
  const header = { alg: signer.alg, kid: signer.kid, typ: 'JWT' };
  const input = `${b64(header)}.${b64(claims)}`;
  // JWS ES384 signatures are r||s (IEEE P1363), not DER.
  const signature =
    signer.alg === 'ES384'
      ? sign('sha384', Buffer.from(input), { key: signer.key, dsaEncoding: 'ieee-p1363' })
      : sign('sha384', Buffer.from(input), signer.key);
  return `${input}.${signature.toString('base64url')}`;
}

function b64(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
