/**
 * SMART App Launch 2.x scopes for backend services: `system/<Type>.<cruds>`,
 * `system/*.<cruds>`, and the SMART v1 forms `system/<Type>.read|write|*`
 * mapped onto v2 permissions. Our own non-FHIR surfaces use
 * `system/council.write` (council push) and `system/ig.read` (IG API).
 */
export type Permission = 'c' | 'r' | 'u' | 'd' | 's';

export interface GrantedScope {
  /** The scope as granted, e.g. "system/CarePlan.rs". */
  readonly text: string;
  /** A resource type, "*", or one of our surfaces ("council", "ig"). */
  readonly target: string;
  readonly permissions: ReadonlySet<Permission>;
}

const V2 = /^system\/([A-Za-z]+|\*)\.(c?r?u?d?s?)$/;
const V1 = /^system\/([A-Za-z]+|\*)\.(read|write|\*)$/;
const V1_MAP: Record<string, Permission[]> = { read: ['r', 's'], write: ['c', 'u', 'd'], '*': ['c', 'r', 'u', 'd', 's'] };

/** Parses one scope; undefined when it is not a system scope we understand. */
export function parseScope(text: string): GrantedScope | undefined {
  const v2 = V2.exec(text);
  if (v2 && v2[2]) {
    return { text, target: v2[1] as string, permissions: new Set(v2[2].split('') as Permission[]) };
  }
  const v1 = V1.exec(text);
  if (v1) {
    return { text, target: v1[1] as string, permissions: new Set(V1_MAP[v1[2] as string]) };
  }
  return undefined;
}

/** Parses a space-separated scope string, keeping the ones we understand. */
export function parseScopes(text: string): GrantedScope[] {
  return text
    .split(/\s+/)
    .filter(Boolean)
    .map(parseScope)
    .filter((s): s is GrantedScope => s !== undefined);
}

/** Whether granted scope `g` covers what scope `wanted` asks (used when a client requests a subset). */
export function scopeCovers(g: GrantedScope, wanted: GrantedScope): boolean {
  return (g.target === '*' || g.target === wanted.target) && [...wanted.permissions].every((p) => g.permissions.has(p));
}

/** Whether any granted scope allows `permission` on `target` (a resource type or surface). */
export function allows(scopes: readonly GrantedScope[], target: string, permission: Permission): boolean {
  return scopes.some((s) => (s.target === target || (s.target === '*' && /^[A-Z]/.test(target))) && s.permissions.has(permission));
}
