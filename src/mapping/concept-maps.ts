import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Coding, ConceptMap } from '@medplum/fhirtypes';

/** One target of a source code, with the group's target system. */
export interface Translation {
  coding: Coding;
  equivalence: string;
}

interface IndexedMap {
  url: string;
  name: string;
  /** source code → its targets, in file order. */
  codes: Map<string, Translation[]>;
}

/** Only these equivalences produce a coding; 'unmatched' and 'disjoint' mean "no translation". */
const USABLE = new Set(['relatedto', 'equivalent', 'equal', 'wider', 'subsumes', 'narrower', 'specializes', 'inexact']);

/**
 * FHIR R4 ConceptMaps translating council code lists, indexed once at load
 * (url → code → targets) so $translate is a map lookup.
 */
export class ConceptMaps {
  private readonly maps = new Map<string, IndexedMap>();

  static loadDir(dir: string): ConceptMaps {
    const maps = new ConceptMaps();
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
      const path = join(dir, file);
      let json: unknown;
      try {
        json = JSON.parse(readFileSync(path, 'utf8'));
      } catch (err) {
        throw new Error(`${path}: not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
      }
      maps.add(json as ConceptMap, path);
    }
    return maps;
  }

  add(map: ConceptMap, where = 'ConceptMap'): void {
    if (map?.resourceType !== 'ConceptMap' || typeof map.url !== 'string') {
      throw new Error(`${where}: not a ConceptMap with a url`);
    }
    if (this.maps.has(map.url)) {
      throw new Error(`${where}: duplicate ConceptMap url ${map.url}`);
    }
    const codes = new Map<string, Translation[]>();
    for (const group of map.group ?? []) {
      for (const element of group.element ?? []) {
        if (!element.code) {
          continue;
        }
        const list = codes.get(element.code) ?? [];
        for (const target of element.target ?? []) {
          if (!target.code || !USABLE.has(target.equivalence ?? '')) {
            continue;
          }
          const coding: Coding = { system: group.target, code: target.code };
          if (target.display) {
            coding.display = target.display;
          }
          list.push({ coding, equivalence: target.equivalence! });
        }
        codes.set(element.code, list);
      }
    }
    this.maps.set(map.url, { url: map.url, name: map.name ?? map.url, codes });
  }

  has(url: string): boolean {
    return this.maps.has(url);
  }

  urls(): string[] {
    return [...this.maps.keys()];
  }

  name(url: string): string | undefined {
    return this.maps.get(url)?.name;
  }

  /**
   * $translate: the codings `code` maps to (optionally only those in `targetSystem`);
   * undefined when the ConceptMap has no usable target for the code.
   * Throws if the ConceptMap is unknown (a mapping bug, caught when mappings load).
   */
  translate(url: string, code: string, targetSystem?: string): Coding[] | undefined {
    const map = this.maps.get(url);
    if (!map) {
      throw new Error(`Unknown ConceptMap ${url}`);
    }
    const targets = map.codes.get(code);
    if (!targets) {
      return undefined;
    }
    const codings = targets.filter((t) => targetSystem === undefined || t.coding.system === targetSystem).map((t) => ({ ...t.coding }));
    return codings.length > 0 ? codings : undefined;
  }
}
