import type { Resource, Task } from '@medplum/fhirtypes';
import { parseScopes } from '../../src/auth/scopes.ts';
import type { OrganisationKind } from '../../src/auth/organisation.ts';
import { loadJointWorkConfig } from '../../src/joint-work/config.ts';
import { isWorkingDay, londonDate } from '../../src/joint-work/deadlines.ts';
import type { TestServer } from '../support/test-server.ts';

/** Shared by the measures tests: organisations, tokens, requests, and dates counted by hand. */
export const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';
export const KIND = 'https://joinedup.org.uk/fhir/CodeSystem/joint-work-request-kind';
export const HOSPITAL = 'X9H01';
export const COUNCIL = 'X9C01';
export const GP = 'X99001';
export const IG_ORG = 'X9IG1';
export const org = (ods: string, display?: string) => ({ type: 'Organization' as const, identifier: { system: ODS, value: ods }, ...(display ? { display } : {}) });

export async function auth(s: TestServer, ods: string, kind: OrganisationKind, role = 'R8000', scopes = 'system/*.cruds'): Promise<Record<string, string>> {
  const token = await s.issueToken({ organisation: { ods, name: `Org ${ods}`, kind }, user: { id: `user-${ods}-${role}`, role }, purposeOfUse: 'TREAT', scopes: parseScopes(scopes) });
  return { authorization: `Bearer ${token}` };
}

export const igAuth = (s: TestServer) => auth(s, IG_ORG, 'information-governance', 'R8000', 'system/ig.read');

const holidays = loadJointWorkConfig().bankHolidays;

/** Today in England. */
export const today = (): string => londonDate(new Date());

/** The date `n` working days before today (so a request made then and answered today took n working days). */
export function workingDaysAgo(n: number): string {
  // Counts the working days after the returned date up to and including today, as the measure does.
  const d = new Date(`${today()}T12:00:00Z`);
  let left = n;
  while (left > 0) {
    if (isWorkingDay(d.toISOString().slice(0, 10), holidays)) left--;
    d.setUTCDate(d.getUTCDate() - 1);
  }
  return d.toISOString().slice(0, 10);
}

export function daysFromToday(n: number): string {
  const d = new Date(`${today()}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

export function serviceRequest(patient: string, kind: string, requester: string, performer: string, authoredOn?: string): Resource {
  return {
    resourceType: 'ServiceRequest',
    status: 'active',
    intent: 'order',
    code: { coding: [{ system: KIND, code: kind }] },
    subject: { reference: `Patient/${patient}` },
    requester: org(requester),
    performer: [org(performer)],
    ...(authoredOn ? { authoredOn } : {}),
  } as Resource;
}

export function requestTask(patient: string, srId: string, kind: string, requester: string, owner: string, authoredOn?: string): Task {
  return {
    resourceType: 'Task',
    status: 'requested',
    intent: 'order',
    code: { coding: [{ system: KIND, code: kind }] },
    basedOn: [{ reference: `ServiceRequest/${srId}` }],
    focus: { reference: `ServiceRequest/${srId}` },
    for: { reference: `Patient/${patient}` },
    requester: org(requester),
    owner: org(owner),
    ...(authoredOn ? { authoredOn } : {}),
  };
}

/** Accepting names who will do it (docs/joint-work.md). */
export const worker = (ods: string, name: string) => ({
  contained: [{ resourceType: 'PractitionerRole' as const, id: 'worker', practitioner: { display: name }, organization: org(ods) }],
  owner: { reference: '#worker', type: 'PractitionerRole' as const },
});

/** Raises a request (ServiceRequest, then its Task) as `requester`; returns the Task. */
export async function raise(s: TestServer, as: Record<string, string>, patient: string, kind: string, requester: string, owner: string, authoredOn?: string): Promise<Task & { id: string }> {
  const sr = await s.request('POST', '/ServiceRequest', serviceRequest(patient, kind, requester, owner, authoredOn), as);
  if (sr.status !== 201) throw new Error(`ServiceRequest: ${sr.status} ${sr.text}`);
  const t = await s.request('POST', '/Task', requestTask(patient, sr.body.id, kind, requester, owner, authoredOn ? `${authoredOn}T10:00:00Z` : undefined), as);
  if (t.status !== 201) throw new Error(`Task: ${t.status} ${t.text}`);
  return t.body as Task & { id: string };
}

export async function answer(s: TestServer, as: Record<string, string>, taskId: string, change: Partial<Task> & Record<string, unknown>): Promise<Task> {
  const current = (await s.request('GET', `/Task/${taskId}`, undefined, as)).body as Task;
  const r = await s.request('PUT', `/Task/${taskId}`, { ...current, ...change }, as);
  if (r.status !== 200) throw new Error(`answer: ${r.status} ${r.text}`);
  return r.body as Task;
}

/** A group of a MeasureReport by its code, as population code → count and the score. */
export function groupOf(report: any, code: string): { pops: Record<string, number>; score: number | undefined; unit: string | undefined; strata: Record<string, number> } {
  const g = (report.group ?? []).find((x: any) => x.code?.coding?.[0]?.code === code);
  if (!g) throw new Error(`no group ${code} in ${JSON.stringify(report)}`);
  const pops = Object.fromEntries((g.population ?? []).map((p: any) => [p.code.coding[0].code, p.count]));
  const strata = Object.fromEntries((g.stratifier?.[0]?.stratum ?? []).map((st: any) => [st.value.text, st.population[0].count]));
  return { pops, score: g.measureScore?.value, unit: g.measureScore?.unit, strata };
}
