import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

/** Synthetic staff accounts of the test identity provider: login name → claims. */
export const IDP_USERS: Record<string, { name: string; email: string; groups: string[] }> = {
  'ig-lead-1': { name: 'Ada Testlead (synthetic)', email: 'ada.testlead@example.invalid', groups: ['staff', 'joinedup-ig'] },
  'caldicott-1': { name: 'Cal Testguardian (synthetic)', email: 'cal.testguardian@example.invalid', groups: ['joinedup-caldicott'] },
  'nurse-1': { name: 'Ned Testnurse (synthetic)', email: 'ned.testnurse@example.invalid', groups: ['staff', 'ward-7'] },
};

export const IDP_CLIENT_ID = 'joinedup-ig-web';

export interface TestIdp {
  issuer: string;
  /** Registers the gateway as a public client (PKCE required) once its address is known. */
  registerGateway(gatewayBaseUrl: string): void;
  close(): Promise<void>;
}

/**
 * A real OpenID provider (panva's oidc-provider) on 127.0.0.1, in the test
 * process: discovery, authorisation endpoint with its development login
 * and consent forms (any password; the login name picks a synthetic user),
 * token, userinfo, JWKS and end-session endpoints. It listens first, so the
 * gateway can be configured with its issuer; the client is registered when
 * the gateway's callback address is known. Claims follow the provider's
 * defaults: the ID token carries sub only, name and groups come from
 * userinfo (so the gateway's userinfo path is exercised).
 */
export async function startTestIdp(): Promise<TestIdp> {
  let provider: Provider | undefined;
  const server = createServer((req, res) => {
    if (!provider) {
      res.writeHead(503).end();
      return;
    }
    provider.callback()(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    registerGateway(base: string) {
      provider = new Provider(issuer, {
        clients: [
          {
            client_id: IDP_CLIENT_ID,
            token_endpoint_auth_method: 'none',
            redirect_uris: [`${base}/ig/sign-in/callback`],
            post_logout_redirect_uris: [`${base}/ig/sign-in`],
            response_types: ['code'],
            grant_types: ['authorization_code'],
          },
        ],
        pkce: { required: () => true },
        claims: { openid: ['sub'], profile: ['name'], email: ['email'], groups: ['groups'] },
        scopes: ['openid', 'profile', 'email', 'groups'],
        findAccount: (_ctx, id) => {
          const u = IDP_USERS[id];
          return u ? { accountId: id, claims: () => ({ sub: id, name: u.name, email: u.email, groups: u.groups }) } : undefined;
        },
        features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
        cookies: { keys: ['test-idp-cookie-key-not-a-secret'] },
      });
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
