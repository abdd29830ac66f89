import { createHmac, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import jose from 'node-jose';
import { ASSERTION_TYPE } from '../../src/auth/client-assertion.ts';

/*
 * Client assertions for tests, built two independent ways: with Node's own
 * crypto (header, payload and signature assembled by hand) and with
 * node-jose. The gateway verifies with node-jose, so the hand-made ones make
 * sure we are not just testing the library against itself.
 */

export interface TestKey {
  kid: string;
  /** The algorithm this key is meant for. */
  alg: 'RS384' | 'ES384';
  privateKey: KeyObject;
  /** Public JWK with kid, fit for a registered JWKS. */
  publicJwk: Record<string, unknown>;
  /** Private JWK with kid (node-jose signs with it). */
  privateJwk: Record<string, unknown>;
}

// Key generation is slow (RSA especially); tests reuse keys by kid.
const keyCache = new Map<string, TestKey>();

export function rsaKey(kid = 'rsa-1', modulusLength = 2048): TestKey {
  return cachedKey(`rsa:${kid}:${modulusLength}`, () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength });
    return toTestKey(kid, 'RS384', privateKey, publicKey);
  });
}

export function ecKey(kid = 'ec-1', namedCurve: 'P-384' | 'P-256' = 'P-384'): TestKey {
  return cachedKey(`ec:${kid}:${namedCurve}`, () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve });
    return toTestKey(kid, 'ES384', privateKey, publicKey);
  });
}

function cachedKey(id: string, make: () => TestKey): TestKey {
  let k = keyCache.get(id);
  if (!k) {
    k = make();
    keyCache.set(id, k);
  }
  return k;
}

function toTestKey(kid: string, alg: TestKey['alg'], privateKey: KeyObject, publicKey: KeyObject): TestKey {
  return {
    kid,
    alg,
    privateKey,
    publicJwk: { ...publicKey.export({ format: 'jwk' }), kid },
    privateJwk: { ...privateKey.export({ format: 'jwk' }), kid },
  };
}

export function jwksOf(...keys: TestKey[]): { keys: Record<string, unknown>[] } {
  return { keys: keys.map((k) => k.publicJwk) };
}

export const TEST_ODS = 'A12345';

/** A valid hl7-b2b extension for organisation `ods`; override members as needed. */
export function b2b(overrides: Record<string, unknown> = {}, ods = TEST_ODS): Record<string, unknown> {
  return {
    version: '1',
    organization_id: `https://fhir.nhs.uk/Id/ods-organization-code|${ods}`,
    subject_id: 'user-0001',
    subject_name: 'Test User',
    subject_role: 'R1330',
    purpose_of_use: ['TREAT'],
    ...overrides,
  };
}

/** Valid claims for clientId at tokenUrl, issued now, expiring in 4 minutes. */
export function claims(clientId: string, tokenUrl: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: clientId,
    sub: clientId,
    aud: tokenUrl,
    iat: now,
    exp: now + 240,
    jti: randomUUID(),
    extensions: { 'hl7-b2b': b2b() },
    ...overrides,
  };
}

export function b64url(value: string | Buffer | object): string {
  if (Buffer.isBuffer(value)) return value.toString('base64url');
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

type CryptoAlg = 'RS384' | 'RS256' | 'ES384' | 'ES256' | 'HS384' | 'none';

/**
 * Signs with node:crypto. `alg` is what the header says and how we sign; the
 * header can be overridden freely (kid, typ, even alg) to build attacks.
 * For HS384 `key` is the HMAC secret.
 */
export function signWithCrypto(
  alg: CryptoAlg,
  key: KeyObject | Buffer | undefined,
  payload: object,
  header: Record<string, unknown> = {}
): string {
  const input = `${b64url({ alg, typ: 'JWT', ...header })}.${b64url(payload)}`;
  let signature: Buffer;
  if (alg === 'none') signature = Buffer.alloc(0);
  else if (alg === 'HS384') signature = createHmac('sha384', key as Buffer).update(input).digest();
  else {
    const digest = alg.endsWith('384') ? 'sha384' : 'sha256';
    // JWS wants ECDSA signatures as raw r||s, not DER (RFC 7518 section 3.4).
    signature = alg.startsWith('ES')
      ? sign(digest, Buffer.from(input), { key: key as KeyObject, dsaEncoding: 'ieee-p1363' })
      : sign(digest, Buffer.from(input), key as KeyObject);
  }
  return `${input}.${b64url(signature)}`;
}

/** The usual case: a correctly made assertion for this key, by node:crypto. */
export function assertionWithCrypto(key: TestKey, payload: object, header: Record<string, unknown> = {}): string {
  return signWithCrypto(key.alg, key.privateKey, payload, { kid: key.kid, ...header });
}

/** The same, made by node-jose from the private JWK. */
export async function assertionWithJose(key: TestKey, payload: object, header: Record<string, unknown> = {}): Promise<string> {
  const jwk = await jose.JWK.asKey(key.privateJwk);
  const signed = await jose.JWS.createSign({ format: 'compact', fields: { alg: key.alg, typ: 'JWT', kid: key.kid, ...header } }, jwk)
    .update(JSON.stringify(payload), 'utf8')
    .final();
  return signed as unknown as string;
}

/** A token request form; pass `undefined` to leave a field out. */
export function tokenForm(assertion: string | undefined, extra: Record<string, string | undefined> = {}): string {
  const fields: Record<string, string | undefined> = {
    grant_type: 'client_credentials',
    client_assertion_type: ASSERTION_TYPE,
    client_assertion: assertion,
    ...extra,
  };
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) params.append(k, v);
  return params.toString();
}

export interface TokenResponse {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

/** POSTs a form (or any body) to the token endpoint. */
export async function postToken(
  tokenUrl: string,
  body: string,
  contentType = 'application/x-www-form-urlencoded'
): Promise<TokenResponse> {
  const res = await fetch(tokenUrl, { method: 'POST', headers: { 'content-type': contentType, accept: 'application/json' }, body });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}
