import { ConfigError } from '../config.ts';
import type { Config } from '../config.ts';
import { isLoopback } from './session.ts';

/** Single sign-on for the IG web page, as configured (all IG_OIDC_* settings, checked together). */
export interface OidcSettings {
  issuer: URL;
  clientId: string;
  clientSecret?: string;
  scopes: string;
  roleClaim: string;
  /** Claim values that grant IG access. */
  roles: ReadonlySet<string>;
  organisation: { ods: string; name: string };
}

const REQUIRED = ['IG_OIDC_ISSUER', 'IG_OIDC_CLIENT_ID', 'IG_OIDC_ROLE_CLAIM', 'IG_OIDC_ROLES', 'IG_OIDC_ORG_ODS', 'IG_OIDC_ORG_NAME'] as const;
const OPTIONAL = ['IG_OIDC_CLIENT_SECRET'] as const;

type OidcConfig = Pick<Config, (typeof REQUIRED)[number] | (typeof OPTIONAL)[number] | 'IG_OIDC_SCOPES'>;

/**
 * The single sign-on settings, or undefined when none is set. A half
 * configuration (an issuer without a client id, a secret without an issuer,
 * roles without a claim…) is refused with the names of what is missing:
 * guessing would either leave /ig with no way in or let anyone in.
 */
export function igOidcSettings(c: OidcConfig): OidcSettings | undefined {
  const set = [...REQUIRED, ...OPTIONAL].filter((k) => c[k] !== undefined);
  if (set.length === 0) return undefined;
  const missing = REQUIRED.filter((k) => c[k] === undefined);
  if (missing.length) {
    throw new ConfigError(`Invalid configuration: single sign-on for /ig is half configured (${set.join(', ')} set): also set ${missing.join(', ')} (docs/ig-web.md, "Sign-in")`);
  }
  const roles = new Set(c.IG_OIDC_ROLES!.split(',').map((r) => r.trim()).filter(Boolean));
  if (!roles.size) throw new ConfigError('Invalid configuration: IG_OIDC_ROLES: name at least one role or group value that grants IG access');
  const issuer = new URL(c.IG_OIDC_ISSUER!);
  if (issuer.search || issuer.hash) throw new ConfigError('Invalid configuration: IG_OIDC_ISSUER: the issuer URL has no query or fragment');
  // Plain http only to a provider on this machine (development and tests): tokens must not cross a network in clear.
  if (issuer.protocol === 'http:' && !isLoopback(issuer.hostname)) throw new ConfigError('Invalid configuration: IG_OIDC_ISSUER: must be https (plain http only for localhost or 127.0.0.1)');
  return {
    issuer,
    clientId: c.IG_OIDC_CLIENT_ID!,
    ...(c.IG_OIDC_CLIENT_SECRET ? { clientSecret: c.IG_OIDC_CLIENT_SECRET } : {}),
    scopes: c.IG_OIDC_SCOPES,
    roleClaim: c.IG_OIDC_ROLE_CLAIM!,
    roles,
    organisation: { ods: c.IG_OIDC_ORG_ODS!.toUpperCase(), name: c.IG_OIDC_ORG_NAME! },
  };
}
