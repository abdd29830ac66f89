import { createHash } from 'node:crypto';
import * as client from 'openid-client';
import type { OidcSettings } from './oidc-config.ts';
import type { IgWebUser, OidcPending } from './session.ts';

/** How long a sign-in at the provider may take before its callback is no longer accepted. */
export const PENDING_MAX_MS = 10 * 60_000;
const PROVIDER_TIMEOUT_S = 10;

export type SignInResult = { kind: 'signed-in'; user: IgWebUser } | { kind: 'no-ig-role' };

/** The provider could not be reached or answered something unusable: nobody's fault on this side of the form. */
export class ProviderUnavailableError extends Error {
  override name = 'ProviderUnavailableError';
}

/**
 * The relying party of the IG web page's single sign-on (openid-client):
 * discovery from the issuer, authorisation code flow with PKCE (S256),
 * state and nonce kept server-side in the anonymous session, the ID token
 * validated by the library. Roles come from the ID token, or from the
 * userinfo endpoint when the provider keeps them there. Nothing personal
 * goes in a URL: the authorisation request carries only random values.
 */
export class OidcSignIn {
  private configuration?: Promise<client.Configuration>;

  constructor(
    readonly settings: OidcSettings,
    /** {BASE_URL}/ig/sign-in/callback, as registered with the provider. */
    readonly redirectUri: string
  ) {
    this.origins.add(settings.issuer.origin);
  }

  /**
   * Origins the browser is sent to after posting a form (sign-in to the
   * authorisation endpoint, sign-out to the end-session endpoint): the
   * pages' CSP form-action must allow them, or the browser stops at the
   * redirect. The issuer's always; the endpoints' once discovered.
   */
  formActionOrigins(): string[] {
    return [...this.origins];
  }

  private readonly origins = new Set<string>();

  /** Discovery at start-up, so the endpoints' origins are known before the first sign-in page; a failure is retried later. */
  warmUp(): void {
    this.config().catch(() => undefined);
  }

  /** Discovery, once; retried on the next sign-in if the provider was unreachable. */
  private config(): Promise<client.Configuration> {
    const s = this.settings;
    this.configuration ??= client
      .discovery(s.issuer, s.clientId, undefined, s.clientSecret ? client.ClientSecretBasic(s.clientSecret) : client.None(), {
        timeout: PROVIDER_TIMEOUT_S,
        // oidc-config.ts allows plain http only to a loopback issuer.
        ...(s.issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : {}),
      })
      .then((config) => {
        const m = config.serverMetadata();
        for (const url of [m.authorization_endpoint, m.end_session_endpoint]) if (url) this.origins.add(new URL(url).origin);
        return config;
      })
      .catch((err: unknown) => {
        this.configuration = undefined;
        throw new ProviderUnavailableError(`discovery failed: ${(err as Error)?.name ?? 'error'} ${(err as { code?: string })?.code ?? ''}`.trim());
      });
    return this.configuration;
  }

  /** Where to send the browser, and what its callback must match. */
  async start(now = Date.now()): Promise<{ url: URL; pending: OidcPending }> {
    const config = await this.config();
    const pending: OidcPending = { state: client.randomState(), nonce: client.randomNonce(), codeVerifier: client.randomPKCECodeVerifier(), startedAt: now };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri,
      scope: this.settings.scopes,
      response_type: 'code',
      code_challenge: await client.calculatePKCECodeChallenge(pending.codeVerifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
    });
    return { url, pending };
  }

  /**
   * Checks the callback (state, then code exchange with the PKCE verifier,
   * then the ID token's signature, issuer, audience, expiry and nonce, all
   * by openid-client) and maps the user to an IG user, or to a refusal when
   * none of their roles grants IG access. Throws on anything not right.
   */
  async finish(callbackQuery: string, pending: OidcPending, now = Date.now()): Promise<SignInResult> {
    if (now - pending.startedAt > PENDING_MAX_MS) throw new SignInExpiredError();
    const config = await this.config();
    const current = new URL(this.redirectUri);
    current.search = callbackQuery;
    const tokens = await client.authorizationCodeGrant(config, current, {
      pkceCodeVerifier: pending.codeVerifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims()!;
    let roleValue = claimAt(claims, this.settings.roleClaim);
    let name = typeof claims.name === 'string' ? claims.name : undefined;
    if ((roleValue === undefined || name === undefined) && config.serverMetadata().userinfo_endpoint) {
      const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
      roleValue ??= claimAt(info, this.settings.roleClaim);
      name ??= typeof info.name === 'string' ? info.name : undefined;
    }
    const held = new Set(valuesOf(roleValue));
    const role = [...this.settings.roles].find((r) => held.has(r));
    if (!role) return { kind: 'no-ig-role' };
    const id = oidcUserId(config.serverMetadata().issuer, claims.sub);
    return { kind: 'signed-in', user: { id, name: name ?? id, role, organisation: this.settings.organisation, via: 'oidc' } };
  }

  /** The provider's end_session_endpoint for RP-initiated logout, when it has one. */
  async endSessionUrl(postLogoutRedirectUri: string): Promise<URL | undefined> {
    const config = await this.config().catch(() => undefined);
    if (!config?.serverMetadata().end_session_endpoint) return undefined;
    return client.buildEndSessionUrl(config, { client_id: this.settings.clientId, post_logout_redirect_uri: postLogoutRedirectUri });
  }
}

export class SignInExpiredError extends Error {
  override name = 'SignInExpiredError';
}

/**
 * The id the audit trail names a single sign-on user by: derived from the
 * issuer and the ID token's `sub` (stable for one user of one provider),
 * without carrying the sub itself, which some providers make an email
 * address. docs/ig-web.md shows how to compute it for a known sub.
 */
export function oidcUserId(issuer: string, sub: string): string {
  return `oidc-${createHash('sha256').update(`${issuer}\n${sub}`).digest('base64url').slice(0, 22)}`;
}

/** A claim by name, or by a dotted path into nested claims (Keycloak's realm_access.roles). */
function claimAt(claims: Record<string, unknown>, name: string): unknown {
  if (name in claims) return claims[name];
  let v: unknown = claims;
  for (const part of name.split('.')) {
    if (!v || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function valuesOf(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}
