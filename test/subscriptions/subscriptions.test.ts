import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ClientExistsError } from '../../src/auth/client-registry.ts';
import type { OrganisationKind } from '../../src/auth/organisation.ts';
import { PURPOSE_CODES } from '../../src/auth/purposes.ts';
import { parseScopes } from '../../src/auth/scopes.ts';
import { patient, writeAs } from '../gate/http-scenario-setup.ts';
import { backends } from '../support/backends.ts';
import { testCarePlan } from '../support/fixtures.ts';
import { suiteServer } from '../support/test-server.ts';
import type { TestServer } from '../support/test-server.ts';
import { startReceiver, waitFor } from './receiver.ts';
import type { Receiver } from './receiver.ts';
import { DEMO_AGREEMENTS } from '../../src/gate/agreements/demo-agreements.ts';

const COUNCIL = 'X9C01';
const GP = 'X99002';
const HOSPITAL = 'X9H01';
const STRANGER = 'X9M01'; // a trust with no agreement and no relationship with anyone here
const KINDS: Record<string, OrganisationKind> = { [COUNCIL]: 'local-authority', [GP]: 'gp-practice', [HOSPITAL]: 'nhs-trust', [STRANGER]: 'nhs-trust' };
const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';
const org = (ods: string) => ({ type: 'Organization', identifier: { system: ODS, value: ods } });

/** A valid NHS number (modulus 11) from a 9-digit stem. */
function nhsNumber(stem: number): string {
  for (let s = stem; ; s++) {
    const digits = String(s).padStart(9, '0').split('').map(Number);
    const check = 11 - (digits.reduce((sum, d, i) => sum + d * (10 - i), 0) % 11);
    if (check === 10) continue;
    return `${digits.join('')}${check === 11 ? 0 : check}`;
  }
}

async function register(s: TestServer): Promise<void> {
  for (const ods of Object.keys(KINDS)) {
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
    await s.clients
      .register({
        clientId: `client-${ods}`,
        organisation: { ods, name: `Org ${ods}`, kind: KINDS[ods] ?? 'nhs-trust' },
        jwks: { keys: [{ ...jwk, kid: randomUUID(), alg: 'ES384', use: 'sig' }] },
        scopes: ['system/*.cruds'],
        purposes: [...PURPOSE_CODES],
      })
      .catch((err: unknown) => {
        if (!(err instanceof ClientExistsError)) throw err;
      });
  }
}

const tokenFor = (s: TestServer, ods: string, scopes = 'system/*.cruds') =>
  s.issueToken({
    clientId: `client-${ods}`,
    organisation: { ods, name: `Org ${ods}`, kind: KINDS[ods] ?? 'nhs-trust' },
    user: { id: `user-${ods}`, role: 'R8000' },
    purposeOfUse: 'TREAT',
    scopes: parseScopes(scopes),
  });

const ENV = {
  SUBSCRIPTION_HTTP_HOSTS: '127.0.0.1,localhost',
  SUBSCRIPTION_RETRY_BASE_MS: '150',
  SUBSCRIPTION_RETRY_MAX_MS: '1000',
  SUBSCRIPTION_ERROR_AFTER: '2',
  SUBSCRIPTION_MAX_ATTEMPTS: '10',
  SUBSCRIPTION_POLL_MS: '50',
  SUBSCRIPTION_TIMEOUT_MS: '2000',
};

describe.each(backends())('FHIR Subscriptions, rest-hook ($name)', (backend) => {
  const s = suiteServer(backend, ENV);
  let receiver: Receiver;
  const as = async (ods: string, method: string, path: string, body?: unknown) =>
    s.request(method, path, body, { authorization: `Bearer ${await tokenFor(s, ods)}` });
  const subscription = (criteria: string, endpoint: string, extra: Record<string, unknown> = {}) => ({
    resourceType: 'Subscription',
    status: 'requested',
    reason: 'Tell us when it changes',
    criteria,
    channel: { type: 'rest-hook', endpoint, payload: 'application/fhir+json', header: ['Authorization: Bearer receiver-secret'] },
    ...extra,
  });
  const subscribe = async (ods: string, criteria: string, extra: Record<string, unknown> = {}, path = '/hook') => {
    const res = await as(ods, 'POST', 'Subscription', subscription(criteria, `${receiver.url}${path}`, extra));
    expect(res.status, res.text).toBe(201);
    await s.subscriptions.settled();
    const read = await as(ods, 'GET', `Subscription/${res.body.id}`);
    expect(read.body.status).toBe('active');
    return res.body.id as string;
  };
  const at = (path: string) => receiver.received.filter((r) => r.path.startsWith(path));

  beforeAll(async () => {
    receiver = await startReceiver();
    await register(s);
    await s.addAgreement(structuredClone(DEMO_AGREEMENTS.find((a) => a.id === 'midshire-direct-care')));
    await writeAs(s, COUNCIL, patient('sub-p1', nhsNumber(943476591), { birthDate: '1948-02-03', gp: GP }));
    await writeAs(s, COUNCIL, patient('sub-p2', nhsNumber(943476700), { birthDate: '1950-05-06', gp: GP }));
  });
  afterAll(async () => {
    await receiver?.close();
  });

  test('the hospital is told when the council accepts its discharge assessment request', async () => {
    const sr = { resourceType: 'ServiceRequest', id: 'sub-sr1', status: 'active', intent: 'order', subject: { reference: 'Patient/sub-p1' }, requester: org(HOSPITAL), performer: [org(COUNCIL)] };
    await writeAs(s, HOSPITAL, sr as Resource);
    const task = { resourceType: 'Task', id: 'sub-task1', status: 'requested', intent: 'order', for: { reference: 'Patient/sub-p1' }, focus: { reference: 'ServiceRequest/sub-sr1' }, requester: org(HOSPITAL), owner: org(COUNCIL) };
    await writeAs(s, COUNCIL, task as Resource);
    await subscribe(HOSPITAL, 'Task?focus=ServiceRequest/sub-sr1', {}, '/hospital');

    const upd = await as(COUNCIL, 'PUT', 'Task/sub-task1', { ...task, status: 'accepted' });
    expect(upd.status, upd.text).toBe(200);
    const got = await waitFor(() => at('/hospital/Task/sub-task1')[0], 10_000, 'the hospital notification');
    // R4 rest-hook with a payload: the endpoint is a FHIR base and the resource arrives as an update.
    expect(got.method).toBe('PUT');
    expect(got.headers['content-type']).toContain('application/fhir+json');
    expect(got.headers.authorization).toBe('Bearer receiver-secret');
    const body = JSON.parse(got.body);
    expect(body).toMatchObject({ resourceType: 'Task', id: 'sub-task1', status: 'accepted' });

    // A change to another request's Task is not sent.
    await writeAs(s, COUNCIL, { ...task, id: 'sub-task-other', focus: { reference: 'ServiceRequest/nope' } } as Resource);
    const other = await as(COUNCIL, 'PUT', 'Task/sub-task-other', { ...task, id: 'sub-task-other', focus: { reference: 'ServiceRequest/nope' }, status: 'accepted' });
    expect(other.status, other.text).toBe(200);
    await s.subscriptions.settled();
    expect(at('/hospital/Task/sub-task-other')).toHaveLength(0);
    // Also when the hospital itself changes the ServiceRequest: nothing (it subscribed to Tasks).
    expect(at('/hospital/ServiceRequest')).toHaveLength(0);
  });

  test('the GP is told when the council updates the care plan; the delivery is audited', async () => {
    await writeAs(s, COUNCIL, { ...testCarePlan('sub-p1'), id: 'sub-plan1' } as Resource);
    const subId = await subscribe(GP, 'CarePlan?patient=Patient/sub-p1', {}, '/gp');
    // A stranger subscribes to the same plan: the gate lets it read nothing of this person.
    const strangerSub = await subscribe(STRANGER, 'CarePlan?patient=Patient/sub-p1', {}, '/stranger');
    // And one without payload: R4's empty notification.
    await subscribe(GP, 'CarePlan?subject=Patient/sub-p1', { channel: { type: 'rest-hook', endpoint: `${receiver.url}/gp-empty` } }, '/unused');

    const before = Number((await s.db.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_event WHERE client_id = $1 AND subtype = 'read'", [`client-${GP}`])).rows[0]?.n);
    const upd = await as(COUNCIL, 'PUT', 'CarePlan/sub-plan1', { ...testCarePlan('sub-p1'), id: 'sub-plan1', description: 'Daily visits increased' });
    expect(upd.status, upd.text).toBe(200);
    const got = await waitFor(() => at('/gp/CarePlan/sub-plan1')[0], 10_000, 'the GP notification');
    expect(JSON.parse(got.body)).toMatchObject({ resourceType: 'CarePlan', id: 'sub-plan1', description: 'Daily visits increased' });
    const empty = await waitFor(() => at('/gp-empty')[0], 10_000, 'the empty notification');
    expect(empty.method).toBe('POST');
    expect(empty.body).toBe('');
    await s.subscriptions.settled();
    expect(at('/stranger')).toHaveLength(0);

    // Each delivery is an audited disclosure to the GP about this person, naming the Subscription.
    const rows = await waitFor(async () => {
      const r = await s.db.query<{ patient_id: string; org_ods: string; outcome: string; content: string }>(
        "SELECT patient_id, org_ods, outcome, content FROM audit_event WHERE client_id = $1 AND subtype = 'read' ORDER BY seq",
        [`client-${GP}`]
      );
      return r.rows.length >= before + 2 ? r.rows : undefined;
    }, 5_000, 'audit rows');
    const mine = rows.filter((r) => r.patient_id === 'sub-p1' && r.content.includes(`Subscription/${subId}`));
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ patient_id: 'sub-p1', org_ods: GP, outcome: 'permit' });
    expect(mine[0]?.content).toContain('CarePlan/sub-plan1/_history/');
    expect(mine[0]?.content).not.toContain('Daily visits');
    // Nothing about this person was disclosed to the stranger (its own Subscription writes and reads are about nobody).
    const stranger = await s.db.query("SELECT count(*)::int AS n FROM audit_event WHERE client_id = $1 AND patient_id = 'sub-p1' AND content LIKE $2", [
      `client-${STRANGER}`,
      `%Subscription/${strangerSub}%`,
    ]);
    expect(Number((stranger.rows[0] as { n: number }).n)).toBe(0);
  });

  test('a subscription to someone the subscriber may not see is kept but delivers nothing', async () => {
    await writeAs(s, COUNCIL, { ...testCarePlan('sub-p2'), id: 'sub-plan2' } as Resource);
    await subscribe(STRANGER, 'CarePlan?patient=Patient/sub-p2', {}, '/stranger2');
    const upd = await as(COUNCIL, 'PUT', 'CarePlan/sub-plan2', { ...testCarePlan('sub-p2'), id: 'sub-plan2', description: 'changed' });
    expect(upd.status, upd.text).toBe(200);
    await s.subscriptions.settled();
    expect(at('/stranger2')).toHaveLength(0);
    expect(await s.subscriptions.queued()).toBe(0);
    // Nor can the stranger read the plan directly: the same gate decided.
    expect((await as(STRANGER, 'GET', 'CarePlan/sub-plan2')).status).toBe(404);
  });

  test('a failing endpoint is retried with backoff; the Subscription shows the error, then recovers', async () => {
    await writeAs(s, COUNCIL, { ...testCarePlan('sub-p2'), id: 'sub-plan3' } as Resource);
    const id = await subscribe(GP, 'CarePlan?patient=Patient/sub-p2', {}, '/flaky');
    receiver.status = () => 500;
    const upd = await as(COUNCIL, 'PUT', 'CarePlan/sub-plan3', { ...testCarePlan('sub-p2'), id: 'sub-plan3', description: 'new plan' });
    expect(upd.status, upd.text).toBe(200);

    // After the second failed attempt the Subscription says so, without personal data.
    const errored = await waitFor(async () => {
      const r = await as(GP, 'GET', `Subscription/${id}`);
      return r.body.status === 'error' ? r.body : undefined;
    }, 10_000, 'status error');
    expect(errored.error).toMatch(/HTTP 500/);
    expect(errored.error).not.toMatch(/sub-p2|new plan/);
    await waitFor(() => at('/flaky').length >= 3, 10_000, 'a third attempt');
    receiver.status = () => 200;
    const recovered = await waitFor(async () => {
      const r = await as(GP, 'GET', `Subscription/${id}`);
      return r.body.status === 'active' ? r.body : undefined;
    }, 15_000, 'status active again');
    expect(recovered.error).toBeUndefined();

    // Exponential backoff: each wait at least the one before (base 150 ms, doubling).
    const times = at('/flaky').map((r) => r.at);
    expect(times.length).toBeGreaterThanOrEqual(4);
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    expect(gaps[0]).toBeGreaterThanOrEqual(120);
    expect(gaps[1]).toBeGreaterThanOrEqual(250);
    expect(gaps[2]).toBeGreaterThanOrEqual(500);
    await s.subscriptions.settled();
    expect(await s.subscriptions.queued()).toBe(0);
  });

  test('subscriptions we cannot serve are refused with 422', async () => {
    const bad = [
      subscription('CarePlan?patient=Patient/sub-p1', 'wss://example.org/ws', { channel: { type: 'websocket', endpoint: 'wss://example.org/ws' } }),
      subscription('CarePlan?patient=Patient/sub-p1', 'http://example.org/hook'),
      subscription('CarePlan?status=active', 'https://example.org/hook'),
      subscription('Patient?name=smith', 'https://example.org/hook'),
      subscription('Task?focus.subject=Patient/sub-p1', 'https://example.org/hook'),
      subscription('Task?_include=Task:focus', 'https://example.org/hook'),
      subscription('CarePlan?patient=Patient/sub-p1', 'https://example.org/hook', { channel: { type: 'rest-hook', endpoint: 'https://example.org/hook', payload: 'application/fhir+xml' } }),
    ];
    for (const body of bad) {
      const res = await as(GP, 'POST', 'Subscription', body);
      expect(res.status, `${JSON.stringify(body)} → ${res.text}`).toBe(422);
      expect(res.body.resourceType).toBe('OperationOutcome');
    }
  });

  test('a Subscription is visible only to its own organisation, and deleting it stops deliveries', async () => {
    const id = await subscribe(GP, 'CarePlan?patient=Patient/sub-p1', {}, '/deleted');
    expect((await as(HOSPITAL, 'GET', `Subscription/${id}`)).status).toBe(404);
    const del = await as(GP, 'DELETE', `Subscription/${id}`);
    expect(del.status).toBeLessThan(300);
    await s.subscriptions.settled();
    const upd = await as(COUNCIL, 'PUT', 'CarePlan/sub-plan1', { ...testCarePlan('sub-p1'), id: 'sub-plan1', description: 'after delete' });
    expect(upd.status, upd.text).toBe(200);
    await s.subscriptions.settled();
    expect(at('/deleted')).toHaveLength(0);
  });
  test('queued deliveries survive a stop and are sent after the next start', async () => {
    await writeAs(s, COUNCIL, { ...testCarePlan('sub-p1'), id: 'sub-plan4' } as Resource);
    await subscribe(GP, 'CarePlan?patient=Patient/sub-p1', {}, '/restart');
    await s.subscriptions.stop();
    try {
      const upd = await as(COUNCIL, 'PUT', 'CarePlan/sub-plan4', { ...testCarePlan('sub-p1'), id: 'sub-plan4', description: 'while stopped' });
      expect(upd.status, upd.text).toBe(200);
      await s.subscriptions.settled();
      expect(await s.subscriptions.queued()).toBeGreaterThan(0);
      expect(at('/restart')).toHaveLength(0);
    } finally {
      s.subscriptions.start();
    }
    const got = await waitFor(() => at('/restart/CarePlan/sub-plan4')[0], 10_000, 'the delivery after restart');
    expect(JSON.parse(got.body).description).toBe('while stopped');
  });
});
