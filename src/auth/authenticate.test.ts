import { beforeAll, describe, expect, test } from 'vitest';
import { loadBaseSchema } from '../fhir/schema.ts';
import { buildSearchParamRegistry } from '../fhir/search/search-params.ts';
import { HttpError } from '../http/outcome.ts';
import { resolveRoute, scopeNeeds } from '../http/routes.ts';
import type { RequestContext } from '../request-context.ts';
import { requireScopes } from './authenticate.ts';
import { parseScopes } from './scopes.ts';

beforeAll(() => {
  loadBaseSchema();
  buildSearchParamRegistry();
});

/** The needs of METHOD path?query, as "Type.perms" strings ("Type.r|s" = r or s). */
function needs(method: string, url: string, conditional = false): string[] {
  const [path = '', query = ''] = url.split('?');
  return scopeNeeds(resolveRoute(method, path), new URLSearchParams(query), conditional).map((n) => `${n.target}.${n.anyOf.join('|')}`);
}

describe('scopeNeeds: interaction → SMART permission', () => {
  test.each([
    ['GET', 'metadata', []],
    ['POST', '', []],
    ['GET', 'Patient/1', ['Patient.r']],
    ['GET', 'Patient/1/_history/2', ['Patient.r']],
    ['GET', 'Patient/1/_history', ['Patient.r']],
    ['GET', 'Patient/_history', ['Patient.r']],
    ['GET', 'CarePlan', ['CarePlan.s']],
    ['POST', 'CarePlan/_search', ['CarePlan.s']],
    ['POST', 'CarePlan', ['CarePlan.c']],
    ['PUT', 'CarePlan/1', ['CarePlan.u']],
    ['PATCH', 'CarePlan/1', ['CarePlan.u']],
    ['DELETE', 'CarePlan/1', ['CarePlan.d']],
    ['POST', 'CarePlan/$validate', ['CarePlan.c|u']],
    ['GET', 'Patient/1/$everything', ['Patient.r']],
    ['GET', 'Patient/1/$everything?_type=CarePlan,Goal', ['Patient.r', 'CarePlan.r', 'Goal.r']],
    ['GET', 'CarePlan?_include=CarePlan:subject:Patient', ['CarePlan.s', 'Patient.r|s']],
    ['GET', 'Patient?_revinclude=CarePlan:subject', ['Patient.s', 'CarePlan.r|s']],
    ['GET', 'CarePlan?subject:Patient.name=x', ['CarePlan.s', 'Patient.s']],
    ['GET', 'CarePlan?subject:Patient.general-practitioner:Practitioner.name=x', ['CarePlan.s', 'Patient.s', 'Practitioner.s']],
    ['GET', 'CarePlan?status=active&unknown.chain=1', ['CarePlan.s']],
  ] as [string, string, string[]][])('%s %s', (method, url, expected) => {
    expect(needs(method, url)).toEqual(expected);
  });

  test('a conditional create also searches', () => {
    expect(needs('POST', 'CarePlan', true)).toEqual(['CarePlan.c', 'CarePlan.s']);
  });

  test('an _include without a target type needs every supported target', () => {
    const n = needs('GET', 'CarePlan?_include=CarePlan:subject');
    expect(n).toContain('Patient.r|s');
    expect(n.every((x) => !x.startsWith('Group'))).toBe(true); // not a type we serve
  });
});

describe('requireScopes', () => {
  const ctx = (scopes: string): RequestContext => ({
    requestId: 'r',
    authMode: 'smart',
    actor: {
      clientId: 'c',
      organisation: { ods: 'X99001', name: 'T', kind: 'local-authority' },
      user: { id: 'u', role: 'R8000' },
      purposeOfUse: 'TREAT',
      scopes: parseScopes(scopes),
      tokenId: 't',
    },
  });

  test('passes when every need is met by one of its permissions', () => {
    expect(() => requireScopes(ctx('system/CarePlan.u'), [{ target: 'CarePlan', anyOf: ['c', 'u'] }])).not.toThrow();
    expect(() => requireScopes(ctx('system/*.rs'), [{ target: 'Patient', anyOf: ['r'] }, { target: 'CarePlan', anyOf: ['s'] }])).not.toThrow();
  });

  test('403 insufficient_scope naming what would do', () => {
    try {
      requireScopes(ctx('system/CarePlan.rs'), [{ target: 'Patient', anyOf: ['r'] }], 'Bundle.entry[3]');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(HttpError);
      const e = err as HttpError;
      expect(e.status).toBe(403);
      expect(e.headers['WWW-Authenticate']).toBe('Bearer realm="joinedup", error="insufficient_scope", scope="system/Patient.r"');
      expect(e.outcome.issue?.[0]).toMatchObject({ code: 'forbidden', expression: ['Bundle.entry[3]'] });
    }
  });

  test('open-development checks nothing; smart mode without an actor is refused', () => {
    expect(() => requireScopes({ requestId: 'r', authMode: 'open-development' }, [{ target: 'Patient', anyOf: ['r'] }])).not.toThrow();
    expect(() => requireScopes({ requestId: 'r', authMode: 'smart' }, [{ target: 'Patient', anyOf: ['r'] }])).toThrow(HttpError);
  });
});
