import jose from 'node-jose';

/** The client assertion algorithms SMART Backend Services asks servers to support. */
export const CLIENT_KEY_ALGS = ['ES384', 'RS384'] as const;
export type ClientKeyAlg = (typeof CLIENT_KEY_ALGS)[number];

/** A private JWK (with "d") and the public JWKS a client registers with the gateway. */
export interface GeneratedKeyPair {
  kid: string;
  alg: ClientKeyAlg;
  privateJwk: Record<string, unknown>;
  publicJwks: { keys: Record<string, unknown>[] };
}

/**
 * Generates a signing key pair for a client system. The kid is the RFC 7638
 * JWK thumbprint (SHA-256, base64url): it is derived from the public key
 * itself, so two keys can never share a kid by accident and anyone can
 * recompute it from the JWKS.
 */
export async function generateClientKeyPair(alg: ClientKeyAlg = 'ES384'): Promise<GeneratedKeyPair> {
  // P-384 matches ES384; 3072-bit RSA is what NIST recommends beyond 2030 for RS384.
  const key = alg === 'ES384' ? await jose.JWK.createKey('EC', 'P-384', { alg, use: 'sig' }) : await jose.JWK.createKey('RSA', 3072, { alg, use: 'sig' });
  const kid = jose.util.base64url.encode((await key.thumbprint('SHA-256')) as unknown as Buffer);
  const withKid = await jose.JWK.asKey({ ...(key.toJSON(true) as object), kid, alg, use: 'sig' });
  return {
    kid,
    alg,
    privateJwk: withKid.toJSON(true) as Record<string, unknown>,
    publicJwks: { keys: [withKid.toJSON(false) as Record<string, unknown>] },
  };
}
