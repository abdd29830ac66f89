import { describe, expect, test } from 'vitest';
import { allows, parseScope, parseScopes, scopeCovers } from './scopes.ts';

describe('SMART scopes', () => {
  test('v2 scopes parse into permissions', () => {
    expect([...(parseScope('system/CarePlan.rs')?.permissions ?? [])]).toEqual(['r', 's']);
    expect(parseScope('system/*.cruds')?.target).toBe('*');
    expect(parseScope('system/CarePlan.sr')).toBeUndefined(); // v2 letters come in cruds order
    expect(parseScope('patient/CarePlan.rs')).toBeUndefined(); // not a backend-services scope
    expect(parseScope('system/CarePlan.')).toBeUndefined();
  });

  test('v1 read/write map onto v2 permissions', () => {
    expect([...(parseScope('system/Patient.read')?.permissions ?? [])].sort()).toEqual(['r', 's']);
    expect([...(parseScope('system/*.write')?.permissions ?? [])].sort()).toEqual(['c', 'd', 'u']);
  });

  test('allows: wildcard covers resource types but not our own surfaces', () => {
    const granted = parseScopes('system/*.rs system/council.write');
    expect(allows(granted, 'CarePlan', 'r')).toBe(true);
    expect(allows(granted, 'CarePlan', 'c')).toBe(false);
    expect(allows(parseScopes('system/*.cruds'), 'ig', 'r')).toBe(false);
  });

  test('scopeCovers decides whether a requested scope is within a granted one', () => {
    const [all] = parseScopes('system/*.cruds');
    const [wanted] = parseScopes('system/CarePlan.rs');
    expect(all && wanted && scopeCovers(all, wanted)).toBe(true);
    expect(wanted && all && scopeCovers(wanted, all)).toBe(false);
  });
});
