import type { Bundle, Resource } from '@medplum/fhirtypes';
import { testCarePlan, testPatient } from '../test/support/fixtures.ts';

export interface LoadedPatient {
  id: string;
  nhs: string;
}

export interface LoadResult {
  patients: LoadedPatient[];
  resources: number;
  seconds: number;
}

/**
 * Loads the data set through the gateway's real write path: FHIR transaction
 * Bundles POSTed to /fhir, so every resource is validated and indexed exactly
 * as in production. Patients first (their server-assigned ids are read back
 * from the transaction-response), then CarePlans referencing them. Bundles are
 * sent one at a time, so the rate is that of a single sequential client.
 */
export async function loadData(fhirBase: string, patientCount: number, carePlansPerPatient: number, bundleSize = 100): Promise<LoadResult> {
  const started = performance.now();
  const patients: LoadedPatient[] = [];
  for (let from = 0; from < patientCount; from += bundleSize) {
    const seeds = range(from, Math.min(from + bundleSize, patientCount));
    const ids = await postTransaction(fhirBase, seeds.map((s) => testPatient(s)));
    seeds.forEach((s, i) => patients.push({ id: ids[i]!, nhs: testPatient(s).identifier![0]!.value! }));
  }
  const carePlans = patients.flatMap((p) =>
    range(0, carePlansPerPatient).map((k) => testCarePlan(p.id, { period: { start: `2025-${String(1 + (k % 12)).padStart(2, '0')}-01` } }))
  );
  for (let from = 0; from < carePlans.length; from += bundleSize) {
    await postTransaction(fhirBase, carePlans.slice(from, from + bundleSize));
  }
  const seconds = (performance.now() - started) / 1000;
  return { patients, resources: patients.length + carePlans.length, seconds };
}

/** POSTs one transaction of creates; returns the new ids in entry order. */
async function postTransaction(fhirBase: string, resources: Resource[]): Promise<string[]> {
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: resources.map((resource) => ({ resource, request: { method: 'POST', url: resource.resourceType } })),
  };
  const res = await fetch(fhirBase, {
    method: 'POST',
    headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
    body: JSON.stringify(bundle),
  });
  const text = await res.text();
  if (res.status !== 200) {
    throw new Error(`transaction failed with HTTP ${res.status}: ${text.slice(0, 2000)}`);
  }
  const reply = JSON.parse(text) as Bundle;
  return (reply.entry ?? []).map((e, i) => {
    const m = /^(?:.*\/)?[A-Za-z]+\/([A-Za-z0-9\-.]+)(?:\/_history\/\d+)?$/.exec(e.response?.location ?? '');
    if (!e.response?.status?.startsWith('201') || !m?.[1]) {
      throw new Error(`transaction entry ${i} was not created: ${JSON.stringify(e.response)}`);
    }
    return m[1];
  });
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
