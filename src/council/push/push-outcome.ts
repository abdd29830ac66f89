import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

export type PushStatus = 'created' | 'updated' | 'unchanged' | 'deleted' | 'rejected';

/** The outcome of one record of a push, in the order the records were sent. */
export interface PushResult {
  /** Position of the record in the request (0 for a single record). */
  index: number;
  recordType?: string;
  sourceRecordId?: string;
  status: PushStatus;
  /** What a single-record FHIR interaction would have answered: 201, 200, 400, 409, 422, 500. */
  httpStatus: number;
  /** References of the resources this push wrote or confirmed (Provenance excluded). */
  resources: string[];
  /** Present on rejection (and only then): every problem, each with its location. */
  issues?: OperationOutcome;
}

export interface PushSummary {
  received: number;
  created: number;
  updated: number;
  unchanged: number;
  deleted: number;
  rejected: number;
}

export interface PushResponse {
  results: PushResult[];
  summary: PushSummary;
}

export function summarise(results: PushResult[]): PushSummary {
  const summary: PushSummary = { received: results.length, created: 0, updated: 0, unchanged: 0, deleted: 0, rejected: 0 };
  for (const r of results) summary[r.status] += 1;
  return summary;
}

/** Identifies the record in a result as far as its (possibly invalid) JSON allows. */
export interface RecordLabel {
  index: number;
  recordType?: string;
  sourceRecordId?: string;
}

export function labelOf(index: number, json: unknown): RecordLabel {
  const o = (json && typeof json === 'object' && !Array.isArray(json) ? json : {}) as Record<string, unknown>;
  const source = (o.source && typeof o.source === 'object' ? o.source : {}) as Record<string, unknown>;
  return {
    index,
    ...(typeof o.recordType === 'string' ? { recordType: o.recordType.slice(0, 64) } : {}),
    ...(typeof source.recordId === 'string' ? { sourceRecordId: source.recordId.slice(0, 128) } : {}),
  };
}

export function rejected(label: RecordLabel, httpStatus: number, issues: OperationOutcomeIssue[]): PushResult {
  return { ...label, status: 'rejected', httpStatus, resources: [], issues: { resourceType: 'OperationOutcome', issue: issues } };
}

export function issue(code: OperationOutcomeIssue['code'], text: string, expression?: string): OperationOutcomeIssue {
  return { severity: 'error', code, details: { text }, ...(expression ? { expression: [expression] } : {}) };
}
