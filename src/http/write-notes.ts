import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { WriteNote } from '../fhir/repo/write-rules-port.ts';

/** The tag that marks, on a write's answer only, that its OperationOutcome holds notices (docs/decisions/0013-joint-work.md). */
export const NOTICE_TAG_SYSTEM = 'https://joinedup.org.uk/fhir/CodeSystem/joint-work-notice';

/** The write rules' informational issues about this resource, as an OperationOutcome; undefined when there are none. */
export function notesOutcome(resource: Resource | undefined, notes: readonly WriteNote[]): OperationOutcome | undefined {
  if (!resource?.id || !notes.length) return undefined;
  const ref = `${resource.resourceType}/${resource.id}`;
  const issue = notes.filter((n) => n.ref === ref).map((n) => n.issue);
  return issue.length ? { resourceType: 'OperationOutcome', issue } : undefined;
}

/**
 * A write's answer with the rules' notices: appended to its OperationOutcome
 * (Prefer: return=OperationOutcome), and on the representation as meta.tag
 * codes of the notices (never stored: tags on the answer only, so the client
 * knows to ask for the OperationOutcome; the stored version is unchanged).
 */
export function withNotes<T extends Resource>(resource: T, outcome: OperationOutcome, notes: readonly WriteNote[]): { resource: T; outcome: OperationOutcome } {
  const extra = notesOutcome(resource, notes);
  if (!extra) return { resource, outcome };
  const tags = extra.issue.flatMap((i) => i.details?.coding ?? []).filter((c) => c.system === NOTICE_TAG_SYSTEM);
  const unique = tags.filter((t, k) => tags.findIndex((u) => u.code === t.code) === k);
  return {
    resource: unique.length ? { ...resource, meta: { ...resource.meta, tag: [...(resource.meta?.tag ?? []), ...unique] } } : resource,
    outcome: { ...outcome, issue: [...(outcome.issue ?? []), ...extra.issue] },
  };
}
