import type { Response } from 'express';

/** RFC 6749 section 5.2 error codes the token endpoint answers with. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope';

/**
 * The one error class of the token endpoint. `description` is sent to the
 * caller, so it is always our own wording: never a value taken from the
 * request (the assertion, its claims, names), never a library's message.
 */
export class OAuthError extends Error {
  override name = 'OAuthError';
  readonly status: number;
  /** The registered client the refusal concerns, once known: for the log, not the answer. */
  clientId?: string;

  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    status?: number
  ) {
    super(description);
    // invalid_client is 401 (the client failed to authenticate); every other
    // code is 400 (RFC 6749 section 5.2).
    this.status = status ?? (error === 'invalid_client' ? 401 : 400);
  }
}

/** Token responses carry credentials or say why none were issued: neither may be cached (RFC 6749 section 5.1). */
export function setNoStore(res: Response): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
}

export function sendOAuthError(res: Response, err: OAuthError): void {
  setNoStore(res);
  res.status(err.status).type('application/json').send(JSON.stringify({ error: err.error, error_description: err.description }));
}
