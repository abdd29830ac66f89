import type { Subscription } from '@medplum/fhirtypes';
import type { PurposeOfUse } from '../auth/purposes.ts';
import type { OrganisationKind } from '../auth/organisation.ts';
import type { SqlClient } from '../db/sql-client.ts';
import type { Actor } from '../request-context.ts';

/**
 * The subscriber as authenticated when the Subscription was written: what the
 * gate decides each notification on. Identifiers only: no user name, and no
 * break-glass justification (an emergency override never extends to
 * notifications).
 */
export interface SubscriberActor {
  clientId: string;
  organisation: { ods: string; name: string; kind: OrganisationKind };
  user: { id: string; role: string };
  purposeOfUse: PurposeOfUse;
  /** The token's scopes, as granted ("system/Task.rs ..."). */
  scopes: string;
}

export function subscriberOf(actor: Actor): SubscriberActor {
  return {
    clientId: actor.clientId,
    organisation: { ods: actor.organisation.ods, name: actor.organisation.name, kind: actor.organisation.kind },
    user: { id: actor.user.id, role: actor.user.role },
    purposeOfUse: actor.purposeOfUse,
    scopes: actor.scopes.map((s) => s.text).join(' '),
  };
}

export async function saveOwner(sql: SqlClient, subscriptionId: string, owner: SubscriberActor): Promise<void> {
  await sql.query(
    `INSERT INTO subscription_owner (subscription_id, client_id, actor, updated_at) VALUES ($1, $2, $3, now())
     ON CONFLICT (subscription_id) DO UPDATE SET client_id = EXCLUDED.client_id, actor = EXCLUDED.actor, updated_at = now()`,
    [subscriptionId, owner.clientId, JSON.stringify(owner)]
  );
}

export async function loadOwner(sql: SqlClient, subscriptionId: string): Promise<SubscriberActor | undefined> {
  const r = await sql.query<{ actor: SubscriberActor | string }>('SELECT actor FROM subscription_owner WHERE subscription_id = $1', [subscriptionId]);
  const a = r.rows[0]?.actor;
  return typeof a === 'string' ? (JSON.parse(a) as SubscriberActor) : a;
}

/** Forgets a deleted Subscription: its subscriber and anything still queued for it. */
export async function forgetSubscription(sql: SqlClient, subscriptionId: string): Promise<void> {
  await sql.query('DELETE FROM subscription_delivery WHERE subscription_id = $1', [subscriptionId]);
  await sql.query('DELETE FROM subscription_owner WHERE subscription_id = $1', [subscriptionId]);
}

export interface StoredSubscription {
  resource: Subscription & { id: string };
  versionId: number;
}

/** The current version of a Subscription, unless it is deleted. */
export async function loadSubscription(sql: SqlClient, id: string): Promise<StoredSubscription | undefined> {
  const r = await sql.query<{ content: string | null; deleted: boolean; version_id: number }>(
    "SELECT content, deleted, version_id FROM resource WHERE resource_type = 'Subscription' AND id = $1",
    [id]
  );
  const row = r.rows[0];
  if (!row || row.deleted || !row.content) return undefined;
  return { resource: JSON.parse(row.content) as Subscription & { id: string }, versionId: row.version_id };
}

/** Every stored (not deleted) Subscription. */
export async function loadAllSubscriptions(sql: SqlClient): Promise<(Subscription & { id: string })[]> {
  const r = await sql.query<{ content: string }>("SELECT content FROM resource WHERE resource_type = 'Subscription' AND NOT deleted AND content IS NOT NULL");
  return r.rows.map((row) => JSON.parse(row.content) as Subscription & { id: string });
}

export interface DeliveryRow {
  id: string;
  subscription_id: string;
  resource_type: string;
  resource_id: string;
  /** Including the attempt now being made. */
  attempts: number;
}

export async function enqueue(sql: SqlClient, items: readonly { subscriptionId: string; resourceType: string; resourceId: string }[]): Promise<void> {
  if (!items.length) return;
  const values: unknown[] = [];
  const tuples = items.map((it, i) => {
    values.push(it.subscriptionId, it.resourceType, it.resourceId);
    return `($${3 * i + 1}, $${3 * i + 2}, $${3 * i + 3})`;
  });
  await sql.query(`INSERT INTO subscription_delivery (subscription_id, resource_type, resource_id) VALUES ${tuples.join(', ')}`, values);
}

/**
 * Claims due deliveries for one attempt each: the attempt is counted and the
 * row leased (pushed into the future) so no other instance takes it; a crash
 * mid-attempt leaves it to be retried when the lease runs out.
 */
export async function claimDue(sql: SqlClient, limit: number, leaseMs: number): Promise<DeliveryRow[]> {
  const r = await sql.query<DeliveryRow>(
    `UPDATE subscription_delivery d
        SET attempts = d.attempts + 1, next_attempt_at = now() + ($2::int * interval '1 millisecond')
      WHERE d.id IN (SELECT id FROM subscription_delivery WHERE next_attempt_at <= now()
                      ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)
      RETURNING d.id::text AS id, d.subscription_id, d.resource_type, d.resource_id, d.attempts`,
    [limit, leaseMs]
  );
  return r.rows.sort((a, b) => Number(a.id) - Number(b.id));
}

/** Hands claimed rows back without counting the attempt. */
export async function release(sql: SqlClient, ids: readonly string[]): Promise<void> {
  if (!ids.length) return;
  await sql.query('UPDATE subscription_delivery SET attempts = attempts - 1, next_attempt_at = now() WHERE id = ANY($1::bigint[])', [ids]);
}

export async function finish(sql: SqlClient, id: string): Promise<void> {
  await sql.query('DELETE FROM subscription_delivery WHERE id = $1', [id]);
}

export async function retryLater(sql: SqlClient, id: string, delayMs: number, error: string): Promise<void> {
  await sql.query("UPDATE subscription_delivery SET next_attempt_at = now() + ($2::int * interval '1 millisecond'), last_error = $3 WHERE id = $1", [
    id,
    delayMs,
    error,
  ]);
}

export async function queuedCount(sql: SqlClient): Promise<number> {
  const r = await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM subscription_delivery');
  return Number(r.rows[0]?.n ?? 0);
}
