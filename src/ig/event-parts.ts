import type { AuditEvent, Extension } from '@medplum/fhirtypes';
import { GATE_DECISION_URL } from '../audit/balp-codes.ts';

/** What the CSV and the access report show of a record's gate-decision extension (audit/gate-extension.ts, audit/review.ts). */
export interface GateParts {
  rules: string[];
  lawfulBasis: string[];
  agreement?: string;
  consent?: string;
  justification?: string;
  explanation?: string;
  reviewOf?: number;
  reviewOutcome?: string;
  reviewNote?: string;
}

export function gateParts(event: AuditEvent): GateParts {
  const parts = event.extension?.find((e) => e.url === GATE_DECISION_URL)?.extension ?? [];
  const out: GateParts = { rules: [], lawfulBasis: [] };
  for (const p of parts) {
    switch (p.url) {
      case 'rule': {
        // valueCode since 2026-11-21; valueCoding in earlier records (audit/gate-extension.ts).
        const c = sub(p, 'code');
        const code = c?.valueCode ?? c?.valueCoding?.code;
        if (code) out.rules.push(code);
        break;
      }
      case 'lawfulBasis': {
        const code = p.valueCode ?? p.valueCoding?.code;
        if (code) out.lawfulBasis.push(code);
        break;
      }
      case 'agreement': {
        const id = sub(p, 'id')?.valueString;
        const version = sub(p, 'version')?.valueInteger;
        if (id) out.agreement = version === undefined ? id : `${id} v${version}`;
        break;
      }
      case 'consent':
        out.consent = p.valueReference?.reference;
        break;
      case 'justification':
        out.justification = p.valueString;
        break;
      case 'explanation':
        out.explanation = p.valueString;
        break;
      case 'reviewOf': {
        const seq = Number(/^AuditEvent\/(\d+)$/.exec(p.valueReference?.reference ?? '')?.[1]);
        if (Number.isSafeInteger(seq)) out.reviewOf = seq;
        break;
      }
      case 'reviewOutcome':
        out.reviewOutcome = p.valueCode;
        break;
      case 'reviewNote':
        out.reviewNote = p.valueString;
        break;
    }
  }
  return out;
}

function sub(e: Extension, url: string): Extension | undefined {
  return e.extension?.find((x) => x.url === url);
}

/** The references an event's entities point at ("Type/id"), in order, without the query or request-id entities. */
export function entityReferences(event: AuditEvent): string[] {
  return (event.entity ?? []).map((e) => e.what?.reference).filter((r): r is string => typeof r === 'string');
}

/** The SDS job role of the requesting user, if recorded. */
export function userRole(event: AuditEvent): string | undefined {
  return event.agent?.find((a) => a.requestor)?.role?.[0]?.coding?.[0]?.code;
}
