/*
 * RFC 7518 section 3.4: an ES384 JWS signature is R and S, 48 octets each,
 * 96 in all. node-jose 2.2.0 (ec-util concatToDer) does not check that length:
 * it zero-fills a short signature, so a valid signature whose last byte is
 * 0x00, sent without that byte, verifies. That is not a forgery (only the key
 * holder could have made the signature) but it is a second encoding of one
 * signature, which RFC 7518 forbids, and a verifier that accepts it is not
 * the verifier we claim to run. So the length is checked before node-jose
 * sees the token. RS384 needs no such check: node:crypto refuses an RSA
 * signature that is not exactly the modulus length.
 */

export const ES384_SIGNATURE_BYTES = 96;

/** Whether the third part of a compact JWS is 96 bytes of base64url, unpadded (128 characters). */
export function isEs384SignatureLength(signaturePart: string): boolean {
  return signaturePart.length === 128 && Buffer.from(signaturePart, 'base64url').length === ES384_SIGNATURE_BYTES;
}
