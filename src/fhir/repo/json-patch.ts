import { OperationOutcomeError, applyPatch, badRequest } from '@medplum/core';
import type { Operation } from '@medplum/core';
import type { OperationOutcome, Resource } from '@medplum/fhirtypes';

const OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

/**
 * Applies a JSON Patch (RFC 6902) to a copy of a resource. The library
 * reports failed operations in its return value rather than throwing, so
 * each is checked: a patch is applied whole or not at all. A patch may not
 * turn the resource into another one (id, resourceType).
 */
export function applyJsonPatch<T extends Resource>(current: T, patch: unknown[]): T {
  patch.forEach((op, i) => {
    const o = op as { op?: unknown; path?: unknown };
    if (typeof o !== 'object' || o === null || typeof o.op !== 'string' || !OPS.has(o.op) || typeof o.path !== 'string') {
      throw invalid(`Patch operation ${i} needs op (add, remove, replace, move, copy or test) and path`);
    }
  });
  const patched = structuredClone(current);
  let results: unknown[];
  try {
    results = applyPatch(patched, patch as Operation[]);
  } catch (err) {
    throw invalid(`Invalid JSON Patch: ${(err as Error).message}`);
  }
  results.forEach((r, i) => {
    if (!r) return;
    const op = patch[i] as Operation;
    if ((r as Error).name === 'TestError' || op.op === 'test') {
      // RFC 5789 §2.2: the patch does not fit the resource's current state.
      throw new OperationOutcomeError(conflict(`Patch operation ${i} (test ${op.path}) failed`));
    }
    throw invalid(`Patch operation ${i} (${op.op} ${op.path}) cannot be applied: ${(r as Error).message}`);
  });
  if (patched.resourceType !== current.resourceType || patched.id !== current.id) {
    throw invalid('A patch may not change resourceType or id');
  }
  return patched;
}

function invalid(text: string): OperationOutcomeError {
  return new OperationOutcomeError(badRequest(text));
}

function conflict(text: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', id: 'conflict', issue: [{ severity: 'error', code: 'conflict', details: { text } }] };
}
