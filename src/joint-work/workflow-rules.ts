import type { OperationOutcomeIssue, PractitionerRole, Reference, ServiceRequest, Task } from '@medplum/fhirtypes';
import { CARE_ACT_S7_3, ODS } from './codes.ts';
import type { JointWorkConfig } from './config.ts';
import { londonDate, responseDeadline } from './deadlines.ts';
import { requestKindOf, requestKinds } from './request-kinds.ts';

/**
 * Formal requests for joint work (issue #7 item 1; seed 001 "Formal: subject
 * to a formal request"; Care Act 2014 ss6-7) as FHIR workflow: a
 * ServiceRequest (what is asked, of whom, by whom) and a Task that tracks the
 * answer. Both carry a joint-work-request-kind code. These rules apply only
 * to resources that carry one; any other ServiceRequest or Task is left alone.
 */

const TERMINAL = new Set(['rejected', 'cancelled', 'completed', 'failed', 'entered-in-error']);
/** Task status changes a request may go through (R4 Task state machine, narrowed to the request's life). */
const NEXT: Readonly<Record<string, readonly string[]>> = {
  draft: ['requested', 'cancelled'],
  requested: ['received', 'accepted', 'rejected', 'cancelled'],
  received: ['accepted', 'rejected', 'cancelled'],
  accepted: ['ready', 'in-progress', 'on-hold', 'completed', 'cancelled', 'failed'],
  ready: ['in-progress', 'on-hold', 'completed', 'cancelled', 'failed'],
  'in-progress': ['on-hold', 'completed', 'cancelled', 'failed'],
  'on-hold': ['in-progress', 'completed', 'cancelled', 'failed'],
};
/** The answers only the receiving organisation (the owner) gives. */
const RECEIVER_ANSWERS = new Set(['received', 'accepted', 'rejected']);

function err(code: OperationOutcomeIssue['code'], text: string, expression: string): OperationOutcomeIssue {
  return { severity: 'error', code, details: { text }, expression: [expression] };
}

const odsOf = (ref: Reference | undefined): string | undefined => (ref?.identifier?.system === ODS ? ref.identifier.value : undefined);

export interface Owner {
  /** The person who will do the work: display and/or identifier. */
  practitioner?: Reference;
  /** The organisation's ODS code. */
  orgOds?: string;
  orgDisplay?: string;
}

/**
 * Who Task.owner names. An organisation (a Reference with an ODS identifier)
 * while the request waits; once accepted, a PractitionerRole (contained, or
 * referenced with its display) whose practitioner and organization say who
 * will do it and for which organisation.
 */
export function ownerOf(task: Task): Owner {
  const owner = task.owner;
  if (!owner) return {};
  if (owner.reference?.startsWith('#')) {
    const role = (task.contained ?? []).find((c) => c.id === owner.reference?.slice(1) && c.resourceType === 'PractitionerRole') as PractitionerRole | undefined;
    if (!role) return {};
    const p = role.practitioner;
    return {
      ...(p && (p.display || p.identifier?.value) ? { practitioner: p } : {}),
      ...(odsOf(role.organization) ? { orgOds: odsOf(role.organization) } : {}),
      ...(role.organization?.display ? { orgDisplay: role.organization.display } : {}),
    };
  }
  const type = owner.type ?? /^([A-Za-z]+)\//.exec(owner.reference ?? '')?.[1];
  if (type === 'Organization') return { ...(odsOf(owner) ? { orgOds: odsOf(owner) } : {}), ...(owner.display ? { orgDisplay: owner.display } : {}) };
  if (type === 'Practitioner' && (owner.display || owner.identifier?.value)) return { practitioner: owner };
  return {};
}

export function checkServiceRequest(sr: ServiceRequest): OperationOutcomeIssue[] {
  const kind = requestKindOf(sr.code);
  if (kind === undefined) return [];
  const issues: OperationOutcomeIssue[] = [];
  if (!requestKinds().has(kind)) {
    issues.push(err('code-invalid', `"${kind}" is not a kind of joint work request (CodeSystem joint-work-request-kind: ${[...requestKinds().keys()].join(', ')})`, 'ServiceRequest.code'));
  }
  if (!odsOf(sr.requester)) {
    issues.push(err('required', 'A request for joint work names the requesting organisation: requester with an ODS code (identifier system https://fhir.nhs.uk/Id/ods-organization-code)', 'ServiceRequest.requester'));
  }
  if (!(sr.performer ?? []).some((p) => odsOf(p))) {
    issues.push(err('required', 'A request for joint work names the organisation asked: a performer with an ODS code', 'ServiceRequest.performer'));
  }
  return issues;
}

export interface TaskRuleResult {
  issues: OperationOutcomeIssue[];
  /** The Task with its computed deadline, on create. */
  amended?: Task;
}

/**
 * A request Task (its code carries a request kind): on create it points at
 * its ServiceRequest, names the receiving organisation as owner, and gets its
 * response deadline; its status moves only along NEXT; only the owner
 * organisation receives, accepts or declines; an acceptance names who will do
 * the work; a decline gives written reasons (Care Act 2014 s7(3)).
 */
export function checkRequestTask(task: Task, previous: Task | undefined, writerOds: string | undefined, config: JointWorkConfig, now: Date): TaskRuleResult {
  const kind = requestKindOf(task.code);
  const prevKind = previous ? requestKindOf(previous.code) : undefined;
  if (kind === undefined && prevKind === undefined) return { issues: [] };
  const issues: OperationOutcomeIssue[] = [];
  if (kind === undefined || !requestKinds().has(kind)) {
    issues.push(err('code-invalid', `A joint work request Task keeps a known request kind in Task.code (CodeSystem joint-work-request-kind)`, 'Task.code'));
    return { issues };
  }
  const refersToRequest = [...(task.basedOn ?? []), ...(task.focus ? [task.focus] : [])].some(
    (r) => r.type === 'ServiceRequest' || /(^|\/)ServiceRequest\/[^/]+$/.test(r.reference ?? '') || (r.reference ?? '').startsWith('urn:uuid:')
  );
  if (!refersToRequest) issues.push(err('required', 'A joint work request Task points at its ServiceRequest (Task.basedOn or Task.focus)', 'Task.basedOn'));

  const owner = ownerOf(task);
  const prevOwner = previous ? ownerOf(previous) : undefined;
  const status = task.status;
  const prevStatus = previous?.status;
  if (!owner.orgOds) {
    issues.push(err('required', 'Task.owner names the organisation asked to do the work (an Organization with an ODS code) or, once accepted, a PractitionerRole with the practitioner and organisation', 'Task.owner'));
  }
  if (previous && prevStatus && status !== prevStatus) {
    if (TERMINAL.has(prevStatus) && status !== 'entered-in-error') {
      issues.push(err('business-rule', `The request was already ${prevStatus}; it cannot become ${status} (raise a new request instead)`, 'Task.status'));
    } else if (status !== 'entered-in-error' && !(NEXT[prevStatus] ?? []).includes(status)) {
      issues.push(err('business-rule', `A request cannot go from ${prevStatus} to ${status} (allowed: ${(NEXT[prevStatus] ?? []).join(', ') || 'none'})`, 'Task.status'));
    }
    const receiver = prevOwner?.orgOds;
    if (RECEIVER_ANSWERS.has(status) && writerOds && receiver && writerOds !== receiver) {
      issues.push(err('forbidden', `Only the organisation asked (${receiver}) may mark the request ${status}`, 'Task.status'));
    }
  }
  if (status === 'accepted' && (!owner.practitioner || !owner.orgOds)) {
    issues.push(err('required', 'Accepting a request names who will do it: Task.owner a PractitionerRole (contained) with the practitioner (display or identifier) and the organisation (ODS code)', 'Task.owner'));
  }
  if (status === 'rejected' && !task.statusReason?.text?.trim()) {
    issues.push(
      err(
        'required',
        `Declining a request for joint work needs written reasons for the requester in Task.statusReason.text (${CARE_ACT_S7_3}: a person who decides not to comply with a request must give the person who made the request written reasons for the decision)`,
        'Task.statusReason'
      )
    );
  }
  if (issues.length) return { issues };
  if (previous && prevKind !== undefined) {
    // The deadline was set when the request was made and is not the client's to move.
    if (previous.restriction?.period?.end && task.restriction?.period?.end !== previous.restriction.period.end) {
      return { issues: [], amended: { ...task, restriction: { ...task.restriction, period: { ...previous.restriction.period, ...task.restriction?.period, end: previous.restriction.period.end } } } };
    }
    return { issues: [] };
  }
  // A new request: its deadline counts from when it was made (authoredOn, never later than now).
  const authored = task.authoredOn && !Number.isNaN(Date.parse(task.authoredOn)) ? new Date(Math.min(Date.parse(task.authoredOn), now.getTime())) : now;
  const end = responseDeadline(kind, authored, config);
  return {
    issues: [],
    amended: {
      ...task,
      authoredOn: task.authoredOn ?? now.toISOString(),
      restriction: { ...task.restriction, period: { ...task.restriction?.period, start: task.restriction?.period?.start ?? londonDate(authored), end } },
    },
  };
}
