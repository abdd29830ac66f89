import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * The log scan over a whole test run (issue #9): every line the gateway
 * logged must be free of the test data's personal data. NHS numbers are
 * found by shape (the test range, 999, ten digits, spaced or not); names,
 * addresses and phone numbers by value, collected from the data the tests
 * send (collectTestPersonalData). Findings name the file, line and kind and
 * show the value masked, so the report does not leak what it found.
 */

export type Kind = 'nhs-number' | 'name' | 'address' | 'postcode' | 'phone';

export interface PersonalData {
  names: Set<string>;
  addressLines: Set<string>;
  postcodes: Set<string>;
  phones: Set<string>;
  /** Name patterns the fixtures generate (testPatient's family name is `Testperson<seed>`). */
  namePatterns: RegExp[];
}

export interface Finding {
  file: string;
  line: number;
  kind: Kind;
  masked: string;
}

export interface LogLineGap {
  file: string;
  line: number;
  msg: string;
}

export interface ScanResult {
  files: number;
  lines: number;
  findings: Finding[];
  /** Lines about one request (they carry a route or method) without a requestId. */
  missingRequestId: LogLineGap[];
  /** Messages logged without a requestId at all, with how often: for review (not all concern a request). */
  withoutRequestId: Map<string, number>;
}

export function emptyPersonalData(): PersonalData {
  return { names: new Set(), addressLines: new Set(), postcodes: new Set(), phones: new Set(), namePatterns: [] };
}

// Ten digits in the test range, alone (not inside a longer number, a hex id or a decimal fraction).
const NHS_NUMBER = /(?<![\p{L}\p{N}.])999[ -]?\d{3}[ -]?\d{4}(?![\p{L}\p{N}])/gu;
// A name worth looking for: letters (with hyphens, apostrophes, spaces inside), at least three of them.
const NAME_LIKE = /^\p{L}[\p{L}'’ -]*\p{L}$/u;
const MIN_NAME = 3;

const NAME_KEYS = new Set(['family', 'given', 'family_name', 'given_name', 'surname', 'forename', 'forenames', 'first_name', 'last_name', 'familyName', 'givenName']);
const ADDRESS_KEYS = new Set(['line', 'city', 'district', 'address_line', 'addressLine', 'town']);
const POSTCODE_KEYS = new Set(['postalCode', 'postcode', 'post_code']);
const PHONE_KEYS = new Set(['phone', 'telephone', 'mobile']);

/** Adds what a JSON value holds under personal-data keys (FHIR HumanName and Address, council formats, telecom). */
export function addFromJson(data: PersonalData, value: unknown): void {
  if (Array.isArray(value)) {
    for (const v of value) addFromJson(data, v);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const obj = value as Record<string, unknown>;
  if (obj.system === 'phone' && typeof obj.value === 'string') addPhone(data, obj.value);
  for (const [key, v] of Object.entries(obj)) {
    const strings = typeof v === 'string' ? [v] : Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : [];
    if (NAME_KEYS.has(key)) for (const s of strings) addName(data, s);
    else if (ADDRESS_KEYS.has(key)) for (const s of strings) addAddressLine(data, s);
    else if (POSTCODE_KEYS.has(key)) for (const s of strings) addPostcode(data, s);
    else if (PHONE_KEYS.has(key)) for (const s of strings) addPhone(data, s);
    if (strings.length === 0) addFromJson(data, v);
  }
}

// Placeholder names that are also ordinary words of our own log lines ("Test Council").
const NOT_NAMES = new Set(['Test']);

export function addName(data: PersonalData, name: string): void {
  // "Grace Adaeze" is two given names: each is looked for alone.
  for (const part of name.trim().split(/\s+/)) {
    if (part.length >= MIN_NAME && NAME_LIKE.test(part) && !NOT_NAMES.has(part)) data.names.add(part);
  }
}

// UK postcode shape (outward code, inward code); mapping templates ("{{ postcode }}") are not postcodes.
const POSTCODE = /^[A-Z]{1,2}\d[A-Z\d]?\d[A-Z]{2}$/;

export function addPostcode(data: PersonalData, postcode: string): void {
  const p = normalisePostcode(postcode);
  if (POSTCODE.test(p)) data.postcodes.add(p);
}

export function addPhone(data: PersonalData, phone: string): void {
  if (/^\+?[\d ()-]+$/.test(phone) && phone.replace(/\D/g, '').length >= 7) data.phones.add(phone);
}

export function addAddressLine(data: PersonalData, line: string): void {
  const t = line.trim();
  if (t.length >= 4 && /\p{L}{3}/u.test(t)) data.addressLines.add(t);
}

// Name and address literals in test code ("family: 'Testsort-Bell'", "line: ['1 Test Street']").
const TS_LITERAL = /\b(family|given|family_name|given_name|line|city|postalCode|postcode|phone)\s*:\s*\[?\s*'([^'\\]{1,120})'/g;

export function addFromSource(data: PersonalData, source: string): void {
  for (const m of source.matchAll(TS_LITERAL)) {
    const [, key = '', value = ''] = m;
    addFromJson(data, { [key]: value });
  }
}

/**
 * The personal data in the repository's test inputs: JSON under the given
 * folders (golden council records, examples) and literals in test code.
 */
export function collectTestPersonalData(roots: string[], data: PersonalData = emptyPersonalData()): PersonalData {
  for (const root of roots) {
    for (const file of walk(root)) {
      const text = readFileSync(file, 'utf8');
      if (file.endsWith('.json')) {
        try {
          addFromJson(data, JSON.parse(text));
        } catch {
          // Deliberately broken JSON inputs (error cases): their literals are still found below.
          addFromSource(data, text.replaceAll('"', "'"));
        }
      } else if (file.endsWith('.ndjson') || file.endsWith('.jsonl')) {
        for (const line of text.split('\n')) {
          try {
            if (line.trim()) addFromJson(data, JSON.parse(line));
          } catch {
            // as above
          }
        }
      } else if (file.endsWith('.ts')) {
        addFromSource(data, text);
      }
    }
  }
  return data;
}

function* walk(dir: string): Generator<string> {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* walk(path);
    else yield path;
  }
}

export function normalisePostcode(p: string): string {
  return p.replace(/\s+/g, '').toUpperCase();
}

interface Matchers {
  names?: RegExp;
  addressLines?: RegExp;
  postcodes?: RegExp;
  phones?: RegExp;
  namePatterns: RegExp[];
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
// Whole words only: "Ada" must not match "Adaptive".
const word = (alternatives: string[], flags: string): RegExp | undefined =>
  alternatives.length === 0 ? undefined : new RegExp(`(?<![\\p{L}\\p{N}])(?:${alternatives.map(escape).sort((a, b) => b.length - a.length).join('|')})(?![\\p{L}\\p{N}])`, `u${flags}`);

function matchers(data: PersonalData): Matchers {
  // Postcodes and phone numbers are found with or without their spaces.
  const spaced = (s: string): string => [...s.replace(/\s+/g, '')].map(escape).join('\\s?');
  const alt = (values: Iterable<string>): RegExp | undefined => {
    const list = [...values].filter((v) => v.replace(/\s+/g, '').length >= 5).map(spaced);
    return list.length === 0 ? undefined : new RegExp(`(?<![\\p{L}\\p{N}])(?:${list.join('|')})(?![\\p{L}\\p{N}])`, 'iu');
  };
  return {
    names: word([...data.names], ''),
    addressLines: word([...data.addressLines], 'i'),
    postcodes: alt(data.postcodes),
    phones: alt(data.phones),
    namePatterns: data.namePatterns,
  };
}

/** Findings in one line of text (any text, logged JSON or not). */
export function scanLine(line: string, data: PersonalData, compiled: Matchers = matchers(data)): Array<{ kind: Kind; masked: string }> {
  const found: Array<{ kind: Kind; masked: string }> = [];
  for (const m of line.matchAll(NHS_NUMBER)) found.push({ kind: 'nhs-number', masked: mask(m[0]) });
  const check = (kind: Kind, re: RegExp | undefined): void => {
    const m = re ? line.match(re) : null;
    if (m) found.push({ kind, masked: mask(m[0]) });
  };
  check('name', compiled.names);
  for (const p of compiled.namePatterns) check('name', p);
  check('address', compiled.addressLines);
  check('postcode', compiled.postcodes);
  check('phone', compiled.phones);
  return found;
}

/** First character (first three of an NHS number), the rest as asterisks: enough to find it, not enough to read it. */
export function mask(value: string): string {
  const keep = /^\d/.test(value) ? 3 : 1;
  return value.slice(0, keep) + '*'.repeat(Math.max(0, value.length - keep));
}

/** Scans every file under `dir` (the gateway's log files from one test run). */
export function scanLogDir(dir: string, data: PersonalData): ScanResult {
  const compiled = matchers(data);
  const result: ScanResult = { files: 0, lines: 0, findings: [], missingRequestId: [], withoutRequestId: new Map() };
  for (const file of walk(dir)) {
    if (!file.endsWith('.ndjson') && !file.endsWith('.log')) continue;
    result.files++;
    const shown = relative(dir, file);
    const lines = readFileSync(file, 'utf8').split('\n');
    for (const [i, line] of lines.entries()) {
      if (line.trim() === '') continue;
      result.lines++;
      for (const f of scanLine(line, data, compiled)) result.findings.push({ file: shown, line: i + 1, ...f });
      checkRequestId(line, shown, i + 1, result);
    }
  }
  return result;
}

function checkRequestId(line: string, file: string, lineNo: number, result: ScanResult): void {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    result.missingRequestId.push({ file, line: lineNo, msg: '(not a JSON log line)' });
    return;
  }
  if (typeof entry.requestId === 'string' && entry.requestId !== '') return;
  const msg = typeof entry.msg === 'string' ? entry.msg : '(no msg)';
  result.withoutRequestId.set(msg, (result.withoutRequestId.get(msg) ?? 0) + 1);
  if ('route' in entry || 'method' in entry) result.missingRequestId.push({ file, line: lineNo, msg });
}

/** The scan's verdict as an error message, or undefined when the logs are clean. */
export function describeProblems(result: ScanResult, limit = 20): string | undefined {
  const problems: string[] = [];
  for (const f of result.findings.slice(0, limit)) problems.push(`${f.file}:${f.line}: ${f.kind} ${f.masked}`);
  if (result.findings.length > limit) problems.push(`... and ${result.findings.length - limit} more personal-data findings`);
  for (const g of result.missingRequestId.slice(0, limit)) problems.push(`${g.file}:${g.line}: "${g.msg}" is about a request but has no requestId`);
  if (result.missingRequestId.length > limit) problems.push(`... and ${result.missingRequestId.length - limit} more lines without a requestId`);
  return problems.length === 0 ? undefined : problems.join('\n');
}
