import jose from 'node-jose';
import type { JWK } from 'node-jose';
import type { Actor } from '../request-context.ts';
import type { ClientRecord, ClientRegistry } from './client-registry.ts';
import { isEs384SignatureLength } from './es384-signature.ts';
import { parseHl7B2b } from './hl7-b2b.ts';
import type { JtiStore } from './jti-store.ts';
import type { JwksSource } from './jwks-source.ts';
import { OAuthError } from './oauth-error.ts';

/*
 * SMART Backend Services client authentication (private_key_jwt, RFC 7523).
 * node-jose checks the signature and nothing else, so everything around it
 * is ours, in this order: the form, the JWS shape and header (before any key
 * is touched), the client and its key, the signature, the claims, replay,
 * and finally the request context (hl7-b2b). Unauthenticated callers learn
 * no more than "invalid_client" until the signature has verified.
 */

export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
export const ALGORITHMS = ['RS384', 'ES384'] as const;
export const MAX_ASSERTION_BYTES = 16 * 1024;
/** Clocks differ: an assertion may look up to this much older than it is. */
export const CLOCK_SKEW_SECONDS = 60;
/** SMART: exp no more than five minutes in the future. */
export const MAX_LIFETIME_SECONDS = 300;
/** Slack on the 5-minute limit for clocks a little ahead of ours. */
export const EXP_ALLOWANCE_SECONDS = 10;
const MAX_JTI_LENGTH = 256;
/** The shape ClientRegistration allows. */
const CLIENT_ID = /^[A-Za-z0-9._-]{3,100}$/;
const MIN_RSA_MODULUS_BYTES = 256; // 2048 bits

export interface AssertionDeps {
  clients: ClientRegistry;
  jwks: JwksSource;
  jtis: JtiStore;
  /** The token endpoint URL: the only accepted aud. */
  tokenUrl: string;
  now?: () => number;
}

export interface VerifiedAssertion {
  client: ClientRecord;
  actor: Omit<Actor, 'tokenId' | 'scopes'>;
  requestedScopes?: string;
}

type Json = Record<string, unknown>;

/** Checks the client assertion in a token request form; throws OAuthError with the RFC 6749 code when it fails. */
export async function verifyClientAssertion(deps: AssertionDeps, form: Record<string, unknown>): Promise<VerifiedAssertion> {
  const type = formParam(form, 'client_assertion_type');
  if (type !== ASSERTION_TYPE) {
    throw new OAuthError('invalid_request', `client_assertion_type must be ${ASSERTION_TYPE}`);
  }
  const assertion = formParam(form, 'client_assertion');
  if (!assertion) throw new OAuthError('invalid_request', 'client_assertion is missing');
  if (Buffer.byteLength(assertion) > MAX_ASSERTION_BYTES) {
    throw new OAuthError('invalid_request', `client_assertion is larger than ${MAX_ASSERTION_BYTES} bytes`);
  }
  const { header, payload } = decodeCompactJws(assertion);
  const { alg, kid } = checkHeader(header);

  const clientId = payload.iss;
  if (typeof clientId !== 'string' || clientId.length === 0) {
    throw new OAuthError('invalid_client', 'The assertion does not name its client in iss');
  }
  // Only ids a client could have been registered with reach the database (a NUL byte would make PostgreSQL fail).
  if (!CLIENT_ID.test(clientId)) throw new OAuthError('invalid_client', 'Unknown client');
  const formClientId = formParam(form, 'client_id');
  if (formClientId !== undefined && formClientId !== clientId) {
    throw new OAuthError('invalid_client', 'client_id does not match the iss of the assertion');
  }
  const client = await deps.clients.get(clientId);
  if (!client) throw new OAuthError('invalid_client', 'Unknown client');
  try {
    const key = await deps.jwks.key(client, kid);
    checkKeyFitsAlg(key, alg);
    const claims = await verifySignature(key, alg, assertion);
    // After the signature, so only the client itself learns it is suspended.
    if (client.status !== 'active') throw new OAuthError('invalid_client', 'This client is suspended');
    const now = (deps.now?.() ?? Date.now()) / 1000;
    const { exp, jti } = checkClaims(claims, clientId, deps.tokenUrl, now);
    // Remembered before the context is checked: an assertion is spent once presented.
    if (!(await deps.jtis.remember(clientId, jti, new Date((exp + CLOCK_SKEW_SECONDS) * 1000)))) {
      throw new OAuthError('invalid_grant', 'This assertion (its jti) has already been used');
    }
    const actor = checkContext(claims, client);
    const scope = formParam(form, 'scope');
    return scope === undefined ? { client, actor } : { client, actor, requestedScopes: scope };
  } catch (err) {
    if (err instanceof OAuthError) err.clientId = client.clientId;
    throw err;
  }
}

/** A single string form value; arrays (a repeated parameter) are refused by the caller before this. */
function formParam(form: Record<string, unknown>, name: string): string | undefined {
  if (!Object.hasOwn(form, name)) return undefined;
  const v = form[name];
  if (typeof v !== 'string') throw new OAuthError('invalid_request', `${name} must be given once`);
  return v;
}

// The signature may be empty so that an unsigned ("alg": "none") token is
// refused for what it is, invalid_client, by the header check.
const COMPACT_JWS = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)$/;

/** The compact serialization only: the JSON serializations node-jose also reads have no place in a form parameter. */
function decodeCompactJws(token: string): { header: Json; payload: Json } {
  const m = COMPACT_JWS.exec(token);
  if (!m) throw new OAuthError('invalid_request', 'client_assertion is not a compact JWS (three base64url parts)');
  return { header: jsonObject(m[1] as string, 'header'), payload: jsonObject(m[2] as string, 'payload') };
}

function jsonObject(part: string, what: string): Json {
  // A base64url length of 1 mod 4 cannot come from any byte string.
  if (part.length % 4 === 1) throw new OAuthError('invalid_request', `client_assertion ${what} is not valid base64url`);
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new OAuthError('invalid_request', `client_assertion ${what} is not JSON`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new OAuthError('invalid_request', `client_assertion ${what} is not a JSON object`);
  return v as Json;
}

/**
 * Decided from the header before any key is used: an attacker must not pick
 * the algorithm (none, HS384 keyed with our public key, weaker RS256/ES256).
 */
function checkHeader(header: Json): { alg: (typeof ALGORITHMS)[number]; kid: string } {
  const alg = header.alg;
  if (typeof alg !== 'string' || !(ALGORITHMS as readonly string[]).includes(alg)) {
    throw new OAuthError('invalid_client', 'The assertion must be signed with RS384 or ES384');
  }
  // typ distinguishes a client assertion from other JWTs (an access token is at+jwt).
  if (header.typ !== undefined && (typeof header.typ !== 'string' || header.typ.toUpperCase() !== 'JWT')) {
    throw new OAuthError('invalid_client', 'The assertion header typ must be JWT');
  }
  if (header.crit !== undefined) throw new OAuthError('invalid_client', 'The assertion header may not carry crit: no extensions are supported');
  const kid = header.kid;
  // SMART Backend Services requires kid; guessing among a client's keys would let a retired key slip through.
  if (typeof kid !== 'string' || kid.length === 0 || kid.length > 200) {
    throw new OAuthError('invalid_client', 'The assertion header must name its key in kid');
  }
  return { alg: alg as (typeof ALGORITHMS)[number], kid };
}

/** RS384 needs an RSA key of 2048 bits or more, ES384 an EC key on P-384; a key restricted to another use or alg does not fit. */
function checkKeyFitsAlg(key: JWK.Key, alg: (typeof ALGORITHMS)[number]): void {
  const jwk = key.toJSON() as Json;
  const fits =
    (jwk.alg === undefined || jwk.alg === alg) &&
    (jwk.use === undefined || jwk.use === 'sig') &&
    (alg === 'RS384'
      ? jwk.kty === 'RSA' && typeof jwk.n === 'string' && Buffer.from(jwk.n, 'base64url').length >= MIN_RSA_MODULUS_BYTES
      : jwk.kty === 'EC' && jwk.crv === 'P-384');
  if (!fits) throw new OAuthError('invalid_client', `The key named by kid cannot verify ${alg}`);
}

async function verifySignature(key: JWK.Key, alg: string, assertion: string): Promise<Json> {
  if (alg === 'ES384' && !isEs384SignatureLength(assertion.slice(assertion.lastIndexOf('.') + 1))) {
    throw new OAuthError('invalid_client', 'An ES384 assertion signature must be 96 bytes (RFC 7518 section 3.4)');
  }
  let payload: Buffer;
  try {
    const result = await jose.JWS.createVerify(key, { algorithms: [alg], allowEmbeddedKey: false }).verify(assertion);
    payload = result.payload;
  } catch {
    throw new OAuthError('invalid_client', 'The assertion signature does not verify with the key named by kid');
  }
  // The signed bytes were already parsed once; parse what was verified, not what was peeked at.
  try {
    const v: unknown = JSON.parse(payload.toString('utf8'));
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Json;
  } catch {
    // fall through
  }
  throw new OAuthError('invalid_request', 'client_assertion payload is not a JSON object');
}

function isNumericDate(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** RFC 7523 section 3 and SMART Backend Services rules on the claims. */
function checkClaims(c: Json, clientId: string, tokenUrl: string, now: number): { exp: number; jti: string } {
  const bad = (text: string) => new OAuthError('invalid_grant', text);
  if (c.sub !== clientId) throw bad('sub must equal iss (the client id)');
  const aud = c.aud;
  if (aud === undefined) throw bad(`aud is missing; it must be ${tokenUrl}`);
  if (!(aud === tokenUrl || (Array.isArray(aud) && aud.includes(tokenUrl)))) throw bad(`aud must be ${tokenUrl}`);
  if (!isNumericDate(c.exp)) throw bad('exp is missing or not a NumericDate');
  if (c.exp <= now - CLOCK_SKEW_SECONDS) throw bad('The assertion has expired');
  // A client that sets exp = now + 300 by a clock a few seconds fast must not fail: allow a little over.
  if (c.exp > now + MAX_LIFETIME_SECONDS + EXP_ALLOWANCE_SECONDS) throw bad(`exp may be at most ${MAX_LIFETIME_SECONDS} seconds ahead`);
  if (c.nbf !== undefined) {
    if (!isNumericDate(c.nbf)) throw bad('nbf is not a NumericDate');
    if (c.nbf > now + CLOCK_SKEW_SECONDS) throw bad('The assertion is not valid yet (nbf)');
  }
  if (c.iat !== undefined) {
    if (!isNumericDate(c.iat)) throw bad('iat is not a NumericDate');
    if (c.iat > now + CLOCK_SKEW_SECONDS) throw bad('The assertion was issued in the future (iat)');
    if (c.iat < now - MAX_LIFETIME_SECONDS - CLOCK_SKEW_SECONDS) throw bad('The assertion was issued too long ago (iat)');
  }
  if (typeof c.jti !== 'string' || c.jti.length === 0) throw bad('jti is missing');
  if (c.jti.length > MAX_JTI_LENGTH) throw bad(`jti may be at most ${MAX_JTI_LENGTH} characters`);
  // Stored as text: PostgreSQL refuses NUL, and control characters have no business in an id.
  if (/[\u0000-\u001f\u007f]/.test(c.jti)) throw bad('jti may not contain control characters');
  return { exp: c.exp, jti: c.jti };
}

/** Who is asking, for which organisation and why (HL7 FAST B2B), against what the client is registered for. */
function checkContext(claims: Json, client: ClientRecord): Omit<Actor, 'tokenId' | 'scopes'> {
  const ext = claims.extensions;
  const raw = ext && typeof ext === 'object' && !Array.isArray(ext) ? (ext as Json)['hl7-b2b'] : undefined;
  if (raw === undefined) throw new OAuthError('invalid_request', 'The assertion must carry extensions["hl7-b2b"] (who is asking and why)');
  const parsed = parseHl7B2b(raw);
  if (!parsed.ok) throw new OAuthError('invalid_request', parsed.description);
  const b = parsed.context;
  if (b.ods !== client.organisation.ods) {
    throw new OAuthError('unauthorized_client', "hl7-b2b.organization_id is not this client's organisation");
  }
  if (!client.purposes.includes(b.purposeOfUse)) {
    throw new OAuthError('unauthorized_client', 'This client is not registered for this purpose of use');
  }
  const user: { id: string; name?: string; role: string } = { id: b.subjectId, role: b.subjectRole };
  if (b.subjectName !== undefined) user.name = b.subjectName;
  return {
    clientId: client.clientId,
    organisation: { ...client.organisation },
    user,
    purposeOfUse: b.purposeOfUse,
    ...(b.justification !== undefined ? { justification: b.justification } : {}),
    ...(b.consentReference !== undefined ? { consentReference: b.consentReference } : {}),
  };
}
