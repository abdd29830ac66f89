import { randomUUID } from 'node:crypto';
import { Operator } from '@medplum/core';
import type { Resource, Subscription } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import type { AuditBatcher } from '../audit/audit-batcher.ts';
import { buildExchangeAuditRecord } from '../audit/balp.ts';
import { allows, parseScopes } from '../auth/scopes.ts';
import type { Database } from '../db/sql-client.ts';
import { PgRepository } from '../fhir/repo/pg-repository.ts';
import type { ResourceValidator } from '../fhir/repo/validator-port.ts';
import { RequestGate } from '../gate/enforce/access-gate.ts';
import type { GateServices } from '../gate/enforce/gate-services.ts';
import type { Actor, RequestContext } from '../request-context.ts';
import { send } from './deliver.ts';
import type { DeliveryResult } from './deliver.ts';
import { SUBSCRIBABLE_TYPES, parseCriteria } from './rules.ts';
import {
  claimDue,
  enqueue,
  finish,
  forgetSubscription,
  loadAllSubscriptions,
  loadOwner,
  loadSubscription,
  queuedCount,
  release,
  retryLater,
  saveOwner,
  subscriberOf,
} from './store.ts';
import type { DeliveryRow, SubscriberActor } from './store.ts';

export interface SubscriptionOptions {
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** Consecutive failed attempts after which the Subscription shows status "error". */
  errorAfter: number;
  timeoutMs: number;
  pollMs: number;
  /** How long an instance trusts its list of active Subscriptions (another instance's changes show within this). */
  cacheTtlMs?: number;
}

export interface SubscriptionServiceDeps {
  db: Database;
  validator: ResourceValidator;
  /** The FHIR base (…/fhir): resources are stored with references relative to it. */
  baseUrl: string;
  gate: GateServices;
  audit: AuditBatcher;
  logger: Logger;
  /** A suspended client is sent nothing. */
  clientStatus?: { isActive(clientId: string): Promise<boolean> };
  options: SubscriptionOptions;
}

interface ActiveSubscription {
  id: string;
  resourceType: string;
}

const CLAIM_BATCH = 20;
const NOTIFICATION = 'subscription-notification';

/**
 * FHIR R4 Subscriptions, rest-hook channel (docs/subscriptions.md, ADR 0014).
 * After a write commits, each active Subscription on the written type gets a
 * queued delivery (a reference, never content). The delivery loop decides
 * each one at sending time as a search by the subscriber: the criteria,
 * restricted to the written resource's id, through the subscriber's gated
 * repository. Only what that search returns is sent, and every send is
 * audited first. Failures retry with exponential backoff and show in the
 * Subscription's status and error.
 */
export class SubscriptionService {
  private cache: { byType: Map<string, ActiveSubscription[]>; at: number } | undefined;
  private readonly pending = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;

  constructor(private readonly deps: SubscriptionServiceDeps) {}

  /** For RepositoryDeps.onCommitted: never throws, never waits. */
  readonly onCommitted = (context: RequestContext, written: readonly string[]): void => {
    try {
      this.track(this.afterCommit(context, written));
    } catch (err) {
      this.logError('subscription bookkeeping failed', err);
    }
  };

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.timer = setInterval(() => this.kick(), this.deps.options.pollMs);
    this.timer.unref();
    this.kick();
  }

  /** Stops the loop and waits for what is in flight (deliveries in the queue stay there for the next start). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    while (this.pending.size || this.running) {
      await Promise.allSettled([...this.pending, this.running]);
    }
  }

  /** Runs the delivery loop now (and again, if it is running). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** Tests: waits until bookkeeping is done and nothing is due now (retries scheduled later may remain). */
  async settled(): Promise<void> {
    for (;;) {
      while (this.pending.size || this.running) await Promise.allSettled([...this.pending, this.running]);
      const due = await this.deps.db.query<{ n: number }>('SELECT count(*)::int AS n FROM subscription_delivery WHERE next_attempt_at <= now()');
      if (!Number(due.rows[0]?.n) || this.stopped) return;
      this.kick();
      await this.running;
    }
  }

  /** Deliveries still queued (due or waiting to retry). */
  queued(): Promise<number> {
    return queuedCount(this.deps.db);
  }

  // --- after a commit ---------------------------------------------------------

  private async afterCommit(context: RequestContext, written: readonly string[]): Promise<void> {
    const byType = new Map<string, Set<string>>();
    for (const ref of written) {
      const [type = '', id = ''] = ref.split('/');
      if (!id) continue;
      if (!byType.has(type)) byType.set(type, new Set());
      byType.get(type)?.add(id);
    }
    const subs = byType.get('Subscription');
    if (subs) {
      this.cache = undefined;
      for (const id of subs) await this.subscriptionWritten(context, id);
    }
    const items: { subscriptionId: string; resourceType: string; resourceId: string }[] = [];
    for (const [type, ids] of byType) {
      if (!SUBSCRIBABLE_TYPES.has(type)) continue;
      const active = (await this.active()).get(type) ?? [];
      for (const sub of active) for (const id of ids) items.push({ subscriptionId: sub.id, resourceType: type, resourceId: id });
    }
    if (items.length) {
      await enqueue(this.deps.db, items);
      this.kick();
    }
  }

  /**
   * A client wrote a Subscription: remember who (the gate decides its
   * notifications as reads by them) and set its status as R4 has the server
   * do: "requested" (or a client's "error") becomes "active", unless the
   * subscriber's token could not read what it subscribes to.
   */
  private async subscriptionWritten(context: RequestContext, id: string): Promise<void> {
    const stored = await loadSubscription(this.deps.db, id);
    if (!stored) {
      await forgetSubscription(this.deps.db, id);
      return;
    }
    if (context.authMode === 'open-development') {
      // No authenticated subscriber for the gate to decide on: such a Subscription never delivers.
      await this.setStatus(id, 'error', 'Notifications need an authenticated subscriber (this server runs in open-development mode)', stored.versionId);
      return;
    }
    // Our own status updates have no actor: nothing more to do.
    if (!context.actor) return;
    const owner = subscriberOf(context.actor);
    await saveOwner(this.deps.db, id, owner);
    const sub = stored.resource;
    if (sub.status === 'off') return;
    const parsed = parseCriteria(sub.criteria);
    const type = 'error' in parsed ? undefined : parsed.resourceType;
    const readable = type !== undefined && mayRead(owner, type);
    const error = readable ? undefined : `The subscribing client's access token did not allow reading ${type ?? 'the subscribed type'}`;
    await this.setStatus(id, error ? 'error' : 'active', error, stored.versionId);
  }

  /** Active Subscriptions by the type they watch; "error" ones too (they recover on the next success). */
  private async active(): Promise<Map<string, ActiveSubscription[]>> {
    const ttl = this.deps.options.cacheTtlMs ?? 30_000;
    if (this.cache && Date.now() - this.cache.at < ttl) return this.cache.byType;
    const byType = new Map<string, ActiveSubscription[]>();
    for (const sub of await loadAllSubscriptions(this.deps.db)) {
      if (sub.status !== 'active' && sub.status !== 'error') continue;
      if (sub.end && Date.parse(sub.end) <= Date.now()) continue;
      const parsed = parseCriteria(sub.criteria);
      if ('error' in parsed) continue;
      byType.set(parsed.resourceType, [...(byType.get(parsed.resourceType) ?? []), { id: sub.id, resourceType: parsed.resourceType }]);
    }
    this.cache = { byType, at: Date.now() };
    return byType;
  }

  // --- delivery -------------------------------------------------------------

  private async loop(): Promise<void> {
    const o = this.deps.options;
    const lease = 2 * o.timeoutMs + 10_000;
    try {
      for (;;) {
        if (this.stopped) return;
        const rows = await claimDue(this.deps.db, CLAIM_BATCH, lease);
        if (!rows.length) return;
        for (const [i, row] of rows.entries()) {
          if (this.stopped) {
            // Claimed but not attempted: handed back at once, uncounted, for the next start or another instance.
            await release(this.deps.db, rows.slice(i).map((r) => r.id));
            return;
          }
          await this.deliverOne(row).catch((err: unknown) => this.logError('subscription delivery failed unexpectedly', err));
        }
      }
    } catch (err) {
      this.logError('subscription delivery loop failed', err);
    }
  }

  private async deliverOne(row: DeliveryRow): Promise<void> {
    const { db } = this.deps;
    const stored = await loadSubscription(db, row.subscription_id);
    const sub = stored?.resource;
    if (!stored || !sub || (sub.status !== 'active' && sub.status !== 'error') || (sub.end && Date.parse(sub.end) <= Date.now())) {
      await finish(db, row.id);
      return;
    }
    const owner = await loadOwner(db, sub.id);
    const parsed = parseCriteria(sub.criteria);
    if (!owner || 'error' in parsed || parsed.resourceType !== row.resource_type || !mayRead(owner, row.resource_type)) {
      await finish(db, row.id);
      return;
    }
    if (this.deps.clientStatus && !(await this.deps.clientStatus.isActive(owner.clientId))) {
      await finish(db, row.id);
      return;
    }

    // Decided now, as a search by the subscriber: the criteria and the gate as they stand at sending time.
    const context: RequestContext = { requestId: randomUUID(), authMode: 'smart', actor: actorOf(owner, sub.id) };
    const gate = new RequestGate(this.deps.gate, context);
    const repo = this.repository(context, gate);
    const bundle = await repo.search({
      ...parsed.search,
      filters: [...(parsed.search.filters ?? []), { code: '_id', operator: Operator.EQUALS, value: row.resource_id }],
      count: 1,
      offset: 0,
      total: 'none',
    });
    const match = bundle.entry?.find((e) => e.search?.mode === 'match')?.resource as (Resource & { id: string }) | undefined;
    if (!match) {
      // Not (or no longer) matching, deleted, or withheld by the gate: nothing is sent, nothing disclosed.
      await finish(db, row.id);
      return;
    }

    // Audited before anything leaves, as every disclosure is (the record holds references, never content).
    const ref = `${match.resourceType}/${match.id}`;
    const decision = gate.decisions.find((d) => d.ref === ref && d.decision.outcome === 'permit');
    await this.deps.audit.append(
      buildExchangeAuditRecord({
        recorded: new Date(),
        requestId: context.requestId,
        actor: context.actor as Actor,
        interaction: 'read',
        ...(decision?.patientId ? { patientId: decision.patientId } : {}),
        resources: [match.meta?.versionId ? `${ref}/_history/${match.meta.versionId}` : ref, `Subscription/${sub.id}`],
        operation: NOTIFICATION,
        outcome: 'permit',
        ...(decision ? { decision: decision.decision } : {}),
      })
    );

    const result = await send(sub, match, this.deps.options.timeoutMs);
    if (result.ok) {
      await finish(db, row.id);
      if (sub.status === 'error') await this.setStatus(sub.id, 'active', undefined, stored.versionId);
      return;
    }
    await this.failed(row, sub, stored.versionId, result);
  }

  private async failed(row: DeliveryRow, sub: Subscription & { id: string }, versionId: number, result: Extract<DeliveryResult, { ok: false }>): Promise<void> {
    const o = this.deps.options;
    this.deps.logger.warn({ subscription: sub.id, attempt: row.attempts, failure: result.failure }, 'subscription delivery failed');
    if (row.attempts >= o.maxAttempts) {
      await finish(this.deps.db, row.id);
      await this.setStatus(sub.id, 'error', `Delivery failed ${row.attempts} times (last: ${result.failure}); a notification was dropped`, versionId);
      return;
    }
    const delay = Math.min(o.retryBaseMs * 2 ** (row.attempts - 1), o.retryMaxMs);
    await retryLater(this.deps.db, row.id, delay, result.failure);
    if (row.attempts >= o.errorAfter) {
      await this.setStatus(sub.id, 'error', `Delivery to the endpoint is failing (last: ${result.failure}); retrying with backoff`, versionId);
    }
  }

  /**
   * Sets status and error as a new version, written by the gateway itself (no
   * actor, so no gate: the Subscription keeps its controller). If-Match on
   * the version read, so a client's concurrent change is never overwritten;
   * a lost race is settled by the next attempt.
   */
  private async setStatus(id: string, status: 'active' | 'error', error: string | undefined, versionId: number): Promise<void> {
    const current = await loadSubscription(this.deps.db, id);
    if (!current || current.versionId !== versionId) return;
    const sub = current.resource;
    if (sub.status === status && sub.error === error) return;
    const { error: _old, ...rest } = sub;
    const next: Subscription & { id: string } = { ...rest, status, ...(error ? { error } : {}) };
    try {
      await this.repository({ requestId: randomUUID(), authMode: 'smart' }).updateResource(next, { ifMatch: String(versionId) });
    } catch (err) {
      this.logError('could not update a Subscription status', err);
    }
  }

  private repository(context: RequestContext, gate?: RequestGate): PgRepository {
    return new PgRepository(
      {
        db: this.deps.db,
        validator: this.deps.validator,
        baseUrl: this.deps.baseUrl,
        onDbError: (err) => this.logError('database error', err),
        onCommitted: this.onCommitted,
      },
      context,
      this.deps.db,
      false,
      gate
    );
  }

  private track(p: Promise<unknown>): void {
    const tracked = p.catch((err: unknown) => this.logError('subscription bookkeeping failed', err)).finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  /** Class and code only: messages can quote values. */
  private logError(message: string, err: unknown): void {
    const e = err as { name?: string; code?: string };
    this.deps.logger.error({ error: e?.name, code: e?.code }, message);
  }
}

function mayRead(owner: SubscriberActor, type: string): boolean {
  const scopes = parseScopes(owner.scopes);
  return allows(scopes, type, 'r') || allows(scopes, type, 's');
}

function actorOf(owner: SubscriberActor, subscriptionId: string): Actor {
  return {
    clientId: owner.clientId,
    organisation: owner.organisation,
    user: owner.user,
    purposeOfUse: owner.purposeOfUse,
    scopes: parseScopes(owner.scopes),
    // No token carried this exchange: the audit ties it to the Subscription instead.
    tokenId: `Subscription/${subscriptionId}`,
  };
}
