import type { TypedValueWithPath } from '@medplum/core';
import type { CodeableConcept, Coding, OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { CollectedTokens } from './structural.ts';
import type { Expansion, Terminology } from './terminology.ts';

/**
 * Checks the coded values @medplum/core collected for elements with a
 * required binding (Patient.gender, CarePlan.status, Identifier.use, ...)
 * against the bound value set. @medplum/core collects these but does not
 * check them. Value sets we cannot expand offline are skipped.
 */
export function checkRequiredBindings(tokens: CollectedTokens, terminology: Terminology): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  for (const [valueSetUrl, values] of Object.entries(tokens)) {
    const expansion = terminology.expand(valueSetUrl);
    if (!expansion) {
      continue;
    }
    const name = valueSetUrl.split('|')[0] as string;
    for (const value of values) {
      const problem = checkValue(value, expansion);
      if (problem) {
        issues.push({
          severity: 'error',
          code: 'code-invalid',
          details: { text: `${problem} (required binding to ${name})` },
          expression: [value.path],
        });
      }
    }
  }
  return issues;
}

/** A description of what is wrong with `value`, or undefined when it is in the value set. */
function checkValue(value: TypedValueWithPath, expansion: Expansion): string | undefined {
  // Primitives with extensions arrive boxed (new String(...)).
  const raw = value.value?.valueOf();
  switch (value.type) {
    case 'code':
    case 'string':
    case 'uri':
      if (typeof raw !== 'string') {
        return undefined; // no value, only extensions; structural checks cover type errors
      }
      return expansion.hasCode(raw) ? undefined : `Value '${raw}' is not allowed`;
    case 'Coding':
      return checkCoding(raw as Coding, expansion);
    case 'CodeableConcept': {
      const codings = (raw as CodeableConcept).coding ?? [];
      if (codings.some((c) => checkCoding(c, expansion) === undefined)) {
        return undefined;
      }
      return codings.length === 0
        ? 'No coding given'
        : `None of the codings (${codings.map(describe).join(', ')}) is allowed`;
    }
    default:
      return undefined; // Quantity units etc. are not bound to value sets we can expand
  }
}

function checkCoding(coding: Coding, expansion: Expansion): string | undefined {
  if (typeof coding?.code !== 'string') {
    return 'Coding has no code';
  }
  if (typeof coding.system !== 'string') {
    return `Coding '${coding.code}' has no system`;
  }
  return expansion.hasCoding(coding.system, coding.code) ? undefined : `Coding ${describe(coding)} is not allowed`;
}

function describe(coding: Coding): string {
  return `${coding.system ?? '(no system)'}#${coding.code ?? '(no code)'}`;
}
