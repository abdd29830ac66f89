import { z } from 'zod';
import type { SqlClient } from '../db/sql-client.ts';
import { ORGANISATION_KINDS, OdsCode } from './organisation.ts';
import type { OrganisationKind } from './organisation.ts';
import { PURPOSE_CODES } from './purposes.ts';
import type { PurposeOfUse } from './purposes.ts';
import { parseScope } from './scopes.ts';

/** A public JWKS: only public members are accepted (a private "d" is refused). */
const PublicJwk = z
  .object({ kty: z.enum(['RSA', 'EC']), kid: z.string().min(1).max(200) })
  .catchall(z.unknown())
  .refine((k) => !('d' in k) && !('p' in k) && !('q' in k), 'a JWKS must hold public keys only (no "d", "p" or "q")');

export const Jwks = z.object({ keys: z.array(PublicJwk).min(1).max(20) });
export type Jwks = z.infer<typeof Jwks>;

/** What an operator gives to register a client (CLI input, validated here). */
export const ClientRegistration = z
  .object({
    clientId: z.string().regex(/^[A-Za-z0-9._-]{3,100}$/, 'client ids are 3-100 of A-Z a-z 0-9 . _ -'),
    organisation: z.object({ ods: OdsCode, name: z.string().min(1).max(200), kind: z.enum(ORGANISATION_KINDS) }),
    jwks: Jwks.optional(),
    jwksUri: z.url().refine((u) => u.startsWith('https://') || /^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(u), 'jwks_uri must be https (or http on loopback, for tests)').optional(),
    scopes: z
      .array(z.string().refine((s) => parseScope(s) !== undefined, 'not a SMART system scope (e.g. system/CarePlan.rs)'))
      .min(1),
    purposes: z.array(z.enum(PURPOSE_CODES)).min(1),
  })
  .refine((r) => (r.jwks === undefined) !== (r.jwksUri === undefined), 'give exactly one of jwks (by value) or jwksUri');
export type ClientRegistration = z.infer<typeof ClientRegistration>;

export interface ClientRecord {
  clientId: string;
  organisation: { ods: string; name: string; kind: OrganisationKind };
  jwks?: Jwks;
  jwksUri?: string;
  scopes: string[];
  purposes: PurposeOfUse[];
  status: 'active' | 'suspended';
}

export class ClientExistsError extends Error {
  override name = 'ClientExistsError';
}

interface Row {
  client_id: string;
  organisation_ods: string;
  organisation_name: string;
  organisation_kind: OrganisationKind;
  jwks: string | null;
  jwks_uri: string | null;
  scopes: string[];
  purposes: PurposeOfUse[];
  status: 'active' | 'suspended';
}

function toRecord(r: Row): ClientRecord {
  const rec: ClientRecord = {
    clientId: r.client_id,
    organisation: { ods: r.organisation_ods, name: r.organisation_name, kind: r.organisation_kind },
    scopes: r.scopes,
    purposes: r.purposes,
    status: r.status,
  };
  if (r.jwks) rec.jwks = JSON.parse(r.jwks) as Jwks;
  if (r.jwks_uri) rec.jwksUri = r.jwks_uri;
  return rec;
}

const COLUMNS = 'client_id, organisation_ods, organisation_name, organisation_kind, jwks, jwks_uri, scopes, purposes, status';

/** The registered client systems, kept in the database so they survive restarts and are shared by instances. */
export class ClientRegistry {
  constructor(private readonly sql: SqlClient) {}

  async register(input: unknown): Promise<ClientRecord> {
    const reg = ClientRegistration.parse(input);
    const r = await this.sql.query<Row>(
      `INSERT INTO client (${COLUMNS.replace(', status', '')})
       VALUES ($1, $2, $3, $4, $5, $6, $7::text[], $8::text[])
       ON CONFLICT (client_id) DO NOTHING RETURNING ${COLUMNS}`,
      [
        reg.clientId,
        reg.organisation.ods,
        reg.organisation.name,
        reg.organisation.kind,
        reg.jwks ? JSON.stringify(reg.jwks) : null,
        reg.jwksUri ?? null,
        reg.scopes,
        reg.purposes,
      ]
    );
    const row = r.rows[0];
    if (!row) throw new ClientExistsError(`client ${reg.clientId} is already registered`);
    return toRecord(row);
  }

  async get(clientId: string): Promise<ClientRecord | undefined> {
    const r = await this.sql.query<Row>(`SELECT ${COLUMNS} FROM client WHERE client_id = $1`, [clientId]);
    return r.rows[0] ? toRecord(r.rows[0]) : undefined;
  }

  async list(): Promise<ClientRecord[]> {
    const r = await this.sql.query<Row>(`SELECT ${COLUMNS} FROM client ORDER BY client_id`);
    return r.rows.map(toRecord);
  }

  /** Returns false when no such client exists. */
  async setStatus(clientId: string, status: 'active' | 'suspended'): Promise<boolean> {
    const r = await this.sql.query('UPDATE client SET status = $2, updated_at = now() WHERE client_id = $1', [clientId, status]);
    return r.rowCount > 0;
  }

  async count(): Promise<number> {
    const r = await this.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM client');
    return r.rows[0]?.n ?? 0;
  }
}
