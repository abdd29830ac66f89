import fhirpath from 'fhirpath';
import type { Coding, OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { ConceptMaps } from './concept-maps.ts';
import { issue } from './errors.ts';
import { compileSimpleExpr } from './simple-expr.ts';
import { compileSimplePath } from './simple-path.ts';

/**
 * Templates: FHIR resource skeletons whose strings may hold FHIRPath
 * expressions, evaluated model-less against the input record JSON. A template
 * is compiled once (every expression parsed by fhirpath.compile) and then
 * evaluated per record with no parsing and no file reads.
 *
 * Values:
 * - `"{{ expr }}"` (the whole string): the expression's result — absent when
 *   empty (the key is dropped), the value when one, an array when several.
 * - `"text {{ expr }} text"`: string interpolation; each expression must give
 *   at most one value, and an absent one makes the whole string absent.
 * - Objects and arrays are evaluated member by member; absent members, empty
 *   arrays and empty objects are dropped; arrays produced inside an array
 *   (by `$forEach`, a many-valued expression or `$translate`) are spliced in.
 *
 * Directives (keys starting with `$`) in an object:
 * - `"$forEach": "<expr>"`: the rest of the object is evaluated once per item,
 *   with `%item` (the item) and `%index` (0-based); gives an array.
 * - `"$if": "<expr>"`: the rest of the object is evaluated only when the
 *   expression is true (a single `true`, or a single non-boolean value); with
 *   `$forEach`, it is tested per item.
 * - `"$translate": { "conceptMap": url, "code": expr, "target"?: system,
 *    "as"?: "coding" | "codeableConcept" | "code", "text"?: expr }`: the
 *   ConceptMap's translation of the code; an unmapped code is an error naming
 *   the ConceptMap and the code. Absent code → absent.
 * - `"$id": { "type"?, "kind"?, "key"?: expr, "index"?: expr }`: the resource's
 *   deterministic id; `"$ref"`: the same inputs, giving `"<type>/<id>"`.
 *   `type` defaults to the enclosing template's resourceType (for `$id`);
 *   `key` defaults to the mapping's key expression.
 * - `"$comment"`: ignored.
 *
 * Expressions see the record as their focus and the environment variables
 * `%ctx` (councilOds, receivedAt), `%source` (system, recordId, lastUpdated),
 * `%key` (the mapping key's value), and inside `$forEach`, `%item`/`%index`.
 */

type Fn = (resource: unknown, env?: Record<string, unknown>) => unknown[];

export interface Expr {
  src: string;
  fn: Fn;
}

type Node =
  | { t: 'lit'; v: unknown }
  | { t: 'expr'; e: Expr }
  | { t: 'interp'; parts: (string | Expr)[] }
  | { t: 'arr'; items: Node[] }
  | { t: 'obj'; entries: [string, Node][] }
  | { t: 'each'; e: Expr; body: Node }
  | { t: 'if'; e: Expr; body: Node }
  | { t: 'translate'; url: string; code: Expr; target?: string; as: 'coding' | 'codeableConcept' | 'code'; text?: Expr }
  | { t: 'id'; ref: boolean; type: string; kind?: string; key?: Expr; index?: Expr };

export interface CompiledTemplate {
  readonly node: Node;
  /** The literal resourceType of the template, if any. */
  readonly resourceType?: string;
}

export interface IdRequest {
  type: string;
  kind?: string;
  key: string;
  index?: string;
}

/** What evaluation needs from the mapping run. */
export interface EvalServices {
  conceptMaps: ConceptMaps;
  /** The deterministic id for these inputs. */
  id(request: IdRequest): string;
  /** Problems found so far; evaluation continues past them so all are reported at once. */
  issues: OperationOutcomeIssue[];
}

export interface EvalScope {
  /** The input record (the focus of every expression). */
  record: unknown;
  /** Environment variables (without the leading %). */
  env: Record<string, unknown>;
  /** The input location of %item, used to report problems inside $forEach (e.g. `person.carers[1]`). */
  itemPath?: string;
  /** The value of the mapping's key, the default `key` of $id/$ref. */
  defaultKey?: string;
}

export class TemplateCompileError extends Error {}

const WHOLE = /^\{\{\s*([\s\S]+?)\s*\}\}$/;
const PART = /\{\{\s*([\s\S]+?)\s*\}\}/g;
const DIRECTIVES = new Set(['$forEach', '$if', '$translate', '$id', '$ref', '$comment']);

export interface CompileOptions {
  /**
   * Which expressions skip fhirpath.js when the data allows: `expressions`
   * (default) every form simple-expr.ts knows, `paths` only plain member
   * paths (simple-path.ts), as before simple-expr.ts; kept for benchmarks.
   */
  shortcuts?: 'expressions' | 'paths';
}

export function compileExpr(src: string, at: string, options: CompileOptions = {}): Expr {
  try {
    const full = fhirpath.compile(src, undefined, { async: false }) as Fn;
    const simple = options.shortcuts === 'paths' ? compileSimplePath(src) : compileSimpleExpr(src);
    const fn: Fn = simple ? (record, env) => simple(record, env) ?? full(record, env) : full;
    return { src, fn };
  } catch (err) {
    throw new TemplateCompileError(`${at}: bad FHIRPath '${src}': ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Compiles a template; `conceptMaps` is used to check every ConceptMap url it names. */
export function compileTemplate(template: unknown, at: string, conceptMaps: ConceptMaps, options: CompileOptions = {}): CompiledTemplate {
  const resourceType = isObject(template) && typeof template.resourceType === 'string' ? template.resourceType : undefined;
  return { node: compileNode(template, at, conceptMaps, resourceType, options), ...(resourceType ? { resourceType } : {}) };
}

function compileNode(value: unknown, at: string, maps: ConceptMaps, resourceType: string | undefined, options: CompileOptions): Node {
  if (typeof value === 'string') {
    const whole = WHOLE.exec(value);
    if (whole && !whole[1]!.includes('{{')) {
      return { t: 'expr', e: compileExpr(whole[1]!, at, options) };
    }
    if (!value.includes('{{')) {
      return { t: 'lit', v: value };
    }
    const parts: (string | Expr)[] = [];
    let last = 0;
    for (const m of value.matchAll(PART)) {
      if (m.index > last) {
        parts.push(value.slice(last, m.index));
      }
      parts.push(compileExpr(m[1]!, at, options));
      last = m.index + m[0].length;
    }
    if (last < value.length) {
      parts.push(value.slice(last));
    }
    return { t: 'interp', parts };
  }
  if (Array.isArray(value)) {
    return { t: 'arr', items: value.map((v, i) => compileNode(v, `${at}[${i}]`, maps, resourceType, options)) };
  }
  if (!isObject(value)) {
    return { t: 'lit', v: value };
  }
  for (const key of Object.keys(value)) {
    if (key.startsWith('$') && !DIRECTIVES.has(key)) {
      throw new TemplateCompileError(`${at}: unknown directive ${key}`);
    }
  }
  let body: Node;
  const rest = Object.entries(value).filter(([k]) => !k.startsWith('$'));
  if ('$translate' in value || '$id' in value || '$ref' in value) {
    const terminal = ['$translate', '$id', '$ref'].filter((k) => k in value);
    if (terminal.length > 1 || rest.length > 0) {
      throw new TemplateCompileError(`${at}: ${terminal[0]} cannot be combined with ${[...terminal.slice(1), ...rest.map(([k]) => k)].join(', ')}`);
    }
    body = '$translate' in value ? compileTranslate(value.$translate, `${at}.$translate`, maps, options) : compileId(value, at, maps, resourceType, options);
  } else {
    const childType = typeof value.resourceType === 'string' ? value.resourceType : resourceType;
    body = { t: 'obj', entries: rest.map(([k, v]) => [k, compileNode(v, `${at}.${k}`, maps, childType, options)] as [string, Node]) };
  }
  if ('$if' in value) {
    body = { t: 'if', e: compileExpr(requireString(value.$if, `${at}.$if`), `${at}.$if`, options), body };
  }
  if ('$forEach' in value) {
    body = { t: 'each', e: compileExpr(requireString(value.$forEach, `${at}.$forEach`), `${at}.$forEach`, options), body };
  }
  return body;
}

function compileTranslate(spec: unknown, at: string, maps: ConceptMaps, options: CompileOptions): Node {
  if (!isObject(spec)) {
    throw new TemplateCompileError(`${at}: must be an object`);
  }
  const url = requireString(spec.conceptMap, `${at}.conceptMap`);
  if (!maps.has(url)) {
    throw new TemplateCompileError(`${at}: unknown ConceptMap ${url}`);
  }
  const as = spec.as ?? 'coding';
  if (as !== 'coding' && as !== 'codeableConcept' && as !== 'code') {
    throw new TemplateCompileError(`${at}.as: must be coding, codeableConcept or code`);
  }
  return {
    t: 'translate',
    url,
    code: compileExpr(requireString(spec.code, `${at}.code`), `${at}.code`, options),
    as,
    ...(spec.target !== undefined ? { target: requireString(spec.target, `${at}.target`) } : {}),
    ...(spec.text !== undefined ? { text: compileExpr(requireString(spec.text, `${at}.text`), `${at}.text`, options) } : {}),
  };
}

function compileId(value: Record<string, unknown>, at: string, _maps: ConceptMaps, resourceType: string | undefined, options: CompileOptions): Node {
  const ref = '$ref' in value;
  const name = ref ? '$ref' : '$id';
  const spec = value[name];
  const where = `${at}.${name}`;
  if (!isObject(spec)) {
    throw new TemplateCompileError(`${where}: must be an object`);
  }
  const type = spec.type === undefined ? (ref ? undefined : resourceType) : requireString(spec.type, `${where}.type`);
  if (!type) {
    throw new TemplateCompileError(`${where}: needs a type`);
  }
  return {
    t: 'id',
    ref,
    type,
    ...(spec.kind !== undefined ? { kind: requireString(spec.kind, `${where}.kind`) } : {}),
    ...(spec.key !== undefined ? { key: compileExpr(requireString(spec.key, `${where}.key`), `${where}.key`, options) } : {}),
    ...(spec.index !== undefined ? { index: compileExpr(requireString(spec.index, `${where}.index`), `${where}.index`, options) } : {}),
  };
}

function requireString(v: unknown, at: string): string {
  if (typeof v !== 'string' || v.length === 0) {
    throw new TemplateCompileError(`${at}: must be a non-empty string`);
  }
  return v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------- evaluation

/** Evaluates a compiled template; undefined means "absent". Problems go to services.issues. */
export function evaluateTemplate(template: CompiledTemplate, scope: EvalScope, services: EvalServices): unknown {
  return evalNode(template.node, scope, services);
}

/** Where an expression reads in the input, for error messages: `%item` resolved to its path. */
function inputPath(e: Expr, scope: EvalScope): string {
  if (scope.itemPath && e.src.startsWith('%item')) {
    return scope.itemPath + e.src.slice('%item'.length);
  }
  return e.src;
}

export function run(e: Expr, scope: EvalScope, services: EvalServices): unknown[] {
  try {
    return e.fn(scope.record, scope.env);
  } catch (err) {
    services.issues.push(issue('processing', `Cannot evaluate '${e.src}': ${err instanceof Error ? err.message : String(err)}`, inputPath(e, scope)));
    return [];
  }
}

function plain(v: unknown): unknown {
  return typeof v === 'object' && v !== null ? structuredClone(v) : v;
}

function isTrue(values: unknown[]): boolean {
  return values.length === 1 && values[0] !== false;
}

function single(e: Expr, scope: EvalScope, services: EvalServices, what: string): string | undefined {
  const values = run(e, scope, services);
  if (values.length === 0) {
    return undefined;
  }
  if (values.length > 1 || (typeof values[0] === 'object' && values[0] !== null)) {
    services.issues.push(issue('structure', `${what} '${e.src}' must give a single value, got ${JSON.stringify(values).slice(0, 120)}`, inputPath(e, scope)));
    return undefined;
  }
  return String(values[0]);
}

function evalNode(node: Node, scope: EvalScope, services: EvalServices): unknown {
  switch (node.t) {
    case 'lit':
      return node.v;
    case 'expr': {
      const values = run(node.e, scope, services);
      if (values.length === 0) {
        return undefined;
      }
      return values.length === 1 ? plain(values[0]) : values.map(plain);
    }
    case 'interp': {
      let out = '';
      for (const part of node.parts) {
        if (typeof part === 'string') {
          out += part;
          continue;
        }
        const v = single(part, scope, services, 'Interpolated expression');
        if (v === undefined) {
          return undefined;
        }
        out += v;
      }
      return out;
    }
    case 'arr': {
      const out: unknown[] = [];
      for (const item of node.items) {
        const v = evalNode(item, scope, services);
        if (Array.isArray(v)) {
          out.push(...v);
        } else if (v !== undefined) {
          out.push(v);
        }
      }
      return out.length > 0 ? out : undefined;
    }
    case 'obj': {
      const out: Record<string, unknown> = {};
      let any = false;
      for (const [key, child] of node.entries) {
        const v = evalNode(child, scope, services);
        if (v !== undefined) {
          out[key] = v;
          any = true;
        }
      }
      return any ? out : undefined;
    }
    case 'if':
      return isTrue(run(node.e, scope, services)) ? evalNode(node.body, scope, services) : undefined;
    case 'each': {
      const items = run(node.e, scope, services);
      const base = scope.itemPath && node.e.src.startsWith('%item') ? scope.itemPath + node.e.src.slice(5) : node.e.src;
      const out: unknown[] = [];
      items.forEach((item, index) => {
        const inner: EvalScope = { ...scope, env: { ...scope.env, item, index }, itemPath: `${base}[${index}]` };
        const v = evalNode(node.body, inner, services);
        if (Array.isArray(v)) {
          out.push(...v);
        } else if (v !== undefined) {
          out.push(v);
        }
      });
      return out.length > 0 ? out : undefined;
    }
    case 'translate':
      return evalTranslate(node, scope, services);
    case 'id': {
      let key: string | undefined;
      if (node.key) {
        key = single(node.key, scope, services, 'Id key');
        if (key === undefined) {
          services.issues.push(issue('required', `Missing identifier: '${node.key.src}' is empty, so no ${node.type} id can be made`, inputPath(node.key, scope)));
          return undefined;
        }
      } else {
        key = scope.defaultKey;
        if (key === undefined) {
          return undefined;
        }
      }
      const index = node.index ? single(node.index, scope, services, 'Id index') : undefined;
      const id = services.id({ type: node.type, key, ...(node.kind ? { kind: node.kind } : {}), ...(index !== undefined ? { index } : {}) });
      return node.ref ? `${node.type}/${id}` : id;
    }
  }
}

function evalTranslate(node: Extract<Node, { t: 'translate' }>, scope: EvalScope, services: EvalServices): unknown {
  const codes = run(node.code, scope, services);
  if (codes.length === 0) {
    return undefined;
  }
  const codings: Coding[] = [];
  for (const raw of codes) {
    const code = String(raw);
    const found = services.conceptMaps.translate(node.url, code, node.target);
    if (!found) {
      const name = services.conceptMaps.name(node.url);
      services.issues.push(
        issue(
          'code-invalid',
          `Unknown code '${code}' for ConceptMap ${name} (${node.url})${node.target ? ` to ${node.target}` : ''}`,
          inputPath(node.code, scope),
        ),
      );
      continue;
    }
    codings.push(...found);
  }
  if (codings.length === 0) {
    return undefined;
  }
  switch (node.as) {
    case 'code':
      return codings[0]!.code;
    case 'codeableConcept': {
      const text = node.text ? single(node.text, scope, services, 'Text') : undefined;
      return { coding: codings, ...(text !== undefined ? { text } : {}) };
    }
    default:
      return codings.length === 1 ? codings[0] : codings;
  }
}
