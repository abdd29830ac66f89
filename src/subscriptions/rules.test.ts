import { beforeAll, describe, expect, test } from 'vitest';
import type { Subscription } from '@medplum/fhirtypes';
import { loadBaseSchema } from '../fhir/schema.ts';
import { buildSearchParamRegistry } from '../fhir/search/search-params.ts';
import { checkEndpoint, parseCriteria, subscriptionIssues } from './rules.ts';

beforeAll(() => {
  loadBaseSchema();
  buildSearchParamRegistry();
});

const dev = { httpHosts: new Set(['127.0.0.1', 'localhost']) };
const none = { httpHosts: new Set<string>() };

describe('Subscription criteria', () => {
  test.each([
    'Task?focus=ServiceRequest/sr1',
    'Task?_id=t1',
    'Task?owner=Organization/o1&status=requested,accepted',
    'ServiceRequest?requester=Organization/o1',
    'CarePlan?patient=Patient/p1',
    'CarePlan?subject=Patient/p1&status=active',
  ])('accepts %s', (criteria) => {
    const parsed = parseCriteria(criteria);
    expect('error' in parsed ? parsed.error : parsed.resourceType).toBe(criteria.split('?')[0]);
  });

  test.each([
    ['', /must be a search/],
    ['CarePlan', /must be a search/],
    ['CarePlan?', /must be a search/],
    ['Patient?name=smith', /Task, ServiceRequest, CarePlan only/],
    ['CarePlan?status=active', /must name whose plan/],
    ['Task?focus.subject=Patient/p1', /may not use/],
    ['Task?_include=Task:focus', /may not use/],
    ['Task?_count=1', /may not use/],
    ['Task?_has:Provenance:target:agent=x', /may not use/],
    ['Task?nonsense=1', /unsupported search parameters/],
    ['Task?status=', /has no value/],
  ])('refuses %s', (criteria, why) => {
    const parsed = parseCriteria(criteria);
    expect('error' in parsed ? parsed.error : 'accepted').toMatch(why);
  });
});

describe('Subscription endpoints and channels', () => {
  test('https anywhere; http only to configured development hosts', () => {
    expect(checkEndpoint('https://hospital.example/hooks', none)).toBeUndefined();
    expect(checkEndpoint('http://127.0.0.1:8080/hook', dev)).toBeUndefined();
    expect(checkEndpoint('http://localhost/hook', dev)).toBeUndefined();
    expect(checkEndpoint('http://127.0.0.1:8080/hook', none)).toMatch(/https/);
    expect(checkEndpoint('http://hospital.example/hook', dev)).toMatch(/https/);
    expect(checkEndpoint('https://user:pw@hospital.example/hook', none)).toMatch(/credentials/);
    expect(checkEndpoint('ftp://hospital.example/hook', dev)).toMatch(/https/);
    expect(checkEndpoint('not a url', dev)).toMatch(/absolute/);
    expect(checkEndpoint(undefined, dev)).toMatch(/needs/);
  });

  const sub = (channel: Subscription['channel']): Subscription => ({ resourceType: 'Subscription', status: 'requested', reason: 'r', criteria: 'Task?_id=t1', channel });

  test('rest-hook only, FHIR JSON payload or none, one-line headers the gateway does not set itself', () => {
    expect(subscriptionIssues(sub({ type: 'rest-hook', endpoint: 'https://h.example/x', payload: 'application/fhir+json', header: ['Authorization: Bearer x'] }), none)).toEqual([]);
    expect(subscriptionIssues(sub({ type: 'rest-hook', endpoint: 'https://h.example/x' }), none)).toEqual([]);
    const codes = (c: Subscription['channel']) => subscriptionIssues(sub(c), none).map((i) => i.expression?.[0]);
    expect(codes({ type: 'websocket', endpoint: 'wss://h.example/x' })).toEqual(['Subscription.channel.type']);
    expect(codes({ type: 'email', endpoint: 'mailto:a@b.example' })).toEqual(['Subscription.channel.type']);
    expect(codes({ type: 'rest-hook', endpoint: 'https://h.example/x', payload: 'application/fhir+xml' })).toEqual(['Subscription.channel.payload']);
    expect(codes({ type: 'rest-hook', endpoint: 'https://h.example/x', header: ['Content-Type: text/plain'] })).toEqual(['Subscription.channel.header[0]']);
    expect(codes({ type: 'rest-hook', endpoint: 'https://h.example/x', header: ['no colon here'] })).toEqual(['Subscription.channel.header[0]']);
    expect(codes({ type: 'rest-hook', endpoint: 'https://h.example/x', header: ['X-A: 1\r\nX-B: 2'] })).toEqual(['Subscription.channel.header[0]']);
  });
});
