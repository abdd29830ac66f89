import type { OrganisationKind } from '../auth/organisation.ts';
import type { SqlClient } from '../db/sql-client.ts';

/**
 * The two look-ups a consent question needs besides the gate's own facts:
 * which Patient resources carry the identifiers asked about, and what kind
 * of organisation the actor is. Both take only identifiers and codes; nothing
 * found here is ever logged or put in a card.
 */

/**
 * Patient ids carrying any of the identifiers (typically one NHS number).
 * Several councils may each hold a Patient for the same person, so this can
 * be more than one; each is decided as the FHIR API would decide its rows.
 */
export async function findPatients(sql: SqlClient, identifiers: readonly { system: string; value: string }[]): Promise<string[]> {
  const r = await sql.query<{ id: string }>(
    `SELECT DISTINCT t.id FROM sp_token t JOIN unnest($1::text[], $2::text[]) AS q(system, value) ON t.system = q.system AND t.value = q.value
      WHERE t.resource_type = 'Patient' AND t.code = 'identifier'
      ORDER BY t.id`,
    [identifiers.map((i) => i.system), identifiers.map((i) => i.value)]
  );
  return r.rows.map((x) => x.id);
}

/**
 * The kind of organisation an ODS code belongs to, from the clients
 * registered for it. An actor with no registered client is most likely an NHS
 * body asking through an intermediary, hence the 'nhs-trust' default. The
 * kind goes into the Requester so the question is put to the engine exactly
 * as a real request from that organisation would be.
 */
export async function organisationKind(sql: SqlClient, ods: string): Promise<OrganisationKind> {
  const r = await sql.query<{ organisation_kind: OrganisationKind }>(
    `SELECT organisation_kind FROM client WHERE organisation_ods = $1 ORDER BY (status = 'active') DESC, client_id LIMIT 1`,
    [ods]
  );
  return r.rows[0]?.organisation_kind ?? 'nhs-trust';
}
