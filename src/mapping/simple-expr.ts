import { compileSimplePath } from './simple-path.ts';

/**
 * The shortcut of simple-path.ts, widened to the other expressions the
 * council mappings evaluate for every record or list item: comparisons of a
 * path with a string literal (`%item.deliveredBy.kind = 'person'`), `and` /
 * `or` over those and `.exists()` / `.empty()`, `iif(condition, a, b)` with
 * literal or path branches, and `path.where($this is String)` (Boolean,
 * Integer, Decimal). They were a fifth of the mapping's cost through
 * fhirpath.js on the dense caseload.
 *
 * Same contract as compileSimplePath: the shortcut answers only when every
 * path it reads answers (plain JSON) and every operand has the shape these
 * rules are written for — a comparison of one string, a condition that is
 * empty or one boolean — and returns `undefined` otherwise, so the caller
 * runs fhirpath.js and gets its results and errors. simple-expr.test.ts
 * checks both agree on every mapping expression it answers.
 */

type Values = unknown[] | undefined;
type ExprFn = (record: unknown, env: Record<string, unknown> | undefined) => Values;

/** The shortcut for `src`, or undefined when `src` is outside the subset. */
export function compileSimpleExpr(src: string): ExprFn | undefined {
  const path = compileSimplePath(src);
  if (path) {
    return path;
  }
  const tokens = tokenize(src);
  if (!tokens) {
    return undefined;
  }
  const parser = new Parser(tokens);
  const fn = parser.expr();
  return fn && parser.done() ? fn : undefined;
}

type Token = { t: 'str'; v: string } | { t: 'path'; v: string } | { t: 'op'; v: '=' | '!=' | 'and' | 'or' | 'iif' | '(' | ')' | ',' };

const TYPE_TEST = '\\.where\\(\\s*\\$this\\s+is\\s+(?:String|Boolean|Integer|Decimal)\\s*\\)';
// A member followed by '(' is a function call: leave it to the suffix (or to fhirpath.js).
const PATH_TOKEN = new RegExp(`%?[A-Za-z][A-Za-z0-9_]*(?:\\.[A-Za-z][A-Za-z0-9_]*(?![A-Za-z0-9_(]))*(?:\\.exists\\(\\)|\\.empty\\(\\)|${TYPE_TEST})?`, 'y');
const STRING_TOKEN = /'([^'\\]*)'/y;

function tokenize(src: string): Token[] | undefined {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (c === "'") {
      STRING_TOKEN.lastIndex = i;
      const m = STRING_TOKEN.exec(src);
      if (!m) {
        return undefined;
      }
      out.push({ t: 'str', v: m[1]! });
      i += m[0].length;
      continue;
    }
    if (c === '(' || c === ')' || c === ',' || c === '=') {
      out.push({ t: 'op', v: c });
      i++;
      continue;
    }
    if (c === '!' && src[i + 1] === '=') {
      out.push({ t: 'op', v: '!=' });
      i += 2;
      continue;
    }
    PATH_TOKEN.lastIndex = i;
    const m = PATH_TOKEN.exec(src);
    if (!m) {
      return undefined;
    }
    const word = m[0];
    i += word.length;
    if (word === 'and' || word === 'or') {
      out.push({ t: 'op', v: word });
    } else if (word === 'iif' && src[i] === '(') {
      out.push({ t: 'op', v: 'iif' });
      i++;
    } else {
      out.push({ t: 'path', v: word });
    }
  }
  return out;
}

/** Empty, true or false, as fhirpath.js's three-valued logic sees a condition; undefined when it is anything else. */
function logical(v: unknown[]): boolean | null | undefined {
  if (v.length === 0) {
    return null;
  }
  return v.length === 1 && typeof v[0] === 'boolean' ? v[0] : undefined;
}

const TRUE = [true];
const FALSE = [false];
const EMPTY: unknown[] = [];

class Parser {
  private i = 0;
  private readonly tokens: Token[];

  constructor(tokens: Token[]) {
    this.tokens = tokens;
  }

  done(): boolean {
    return this.i === this.tokens.length;
  }

  private peekOp(v: string): boolean {
    const t = this.tokens[this.i];
    return t?.t === 'op' && t.v === v;
  }

  expr(): ExprFn | undefined {
    // FHIRPath's three-valued `or`: true wins, then empty, then false.
    return this.chain('or', () => this.conjunction(), (x, y) => (x === true || y === true ? TRUE : x === false && y === false ? FALSE : EMPTY));
  }

  private conjunction(): ExprFn | undefined {
    // Three-valued `and`: false wins, then empty, then true.
    return this.chain('and', () => this.comparison(), (x, y) => (x === false || y === false ? FALSE : x === true && y === true ? TRUE : EMPTY));
  }

  /** A left-associative chain of `op` between operands, each side reduced to true/false/empty (undefined: not shortcut). */
  private chain(op: string, operand: () => ExprFn | undefined, combine: (x: boolean | null, y: boolean | null) => Values): ExprFn | undefined {
    let left = operand();
    while (left && this.peekOp(op)) {
      this.i++;
      const right = operand();
      if (!right) {
        return undefined;
      }
      const l = left;
      left = (record, env) => {
        const a = l(record, env);
        const b = a && right(record, env);
        if (!a || !b) {
          return undefined;
        }
        const x = logical(a);
        const y = logical(b);
        if (x === undefined || y === undefined) {
          return undefined;
        }
        return combine(x, y);
      };
    }
    return left;
  }

  private comparison(): ExprFn | undefined {
    const left = this.term();
    if (!left || !(this.peekOp('=') || this.peekOp('!='))) {
      return left;
    }
    const negate = this.peekOp('!=');
    this.i++;
    const lit = this.tokens[this.i];
    if (lit?.t !== 'str') {
      return undefined;
    }
    this.i++;
    const literal = lit.v;
    return (record, env) => {
      const v = left(record, env);
      if (!v) {
        return undefined;
      }
      if (v.length === 0) {
        return EMPTY;
      }
      // One string against a string literal is exact string equality; other shapes are fhirpath.js's business.
      if (v.length !== 1 || typeof v[0] !== 'string') {
        return undefined;
      }
      return (v[0] === literal) !== negate ? TRUE : FALSE;
    };
  }

  private term(): ExprFn | undefined {
    const t = this.tokens[this.i++];
    if (!t) {
      return undefined;
    }
    if (t.t === 'str') {
      const value = [t.v];
      return () => value.slice();
    }
    if (t.t === 'path') {
      return compileTerm(t.v);
    }
    if (t.v === '(') {
      const inner = this.expr();
      if (!inner || !this.peekOp(')')) {
        return undefined;
      }
      this.i++;
      return inner;
    }
    if (t.v === 'iif') {
      const cond = this.expr();
      if (!cond || !this.peekOp(',')) return undefined;
      this.i++;
      const then = this.expr();
      if (!then || !this.peekOp(',')) return undefined;
      this.i++;
      const otherwise = this.expr();
      if (!otherwise || !this.peekOp(')')) return undefined;
      this.i++;
      return (record, env) => {
        const c = cond(record, env);
        if (!c) {
          return undefined;
        }
        const x = logical(c);
        if (x === undefined) {
          return undefined;
        }
        return x === true ? then(record, env) : otherwise(record, env);
      };
    }
    return undefined;
  }
}

const TYPE_TEST_SUFFIX = new RegExp(`${TYPE_TEST}$`);

/** A path, optionally with `.exists()` (simple-path.ts), `.empty()` or `.where($this is T)`. */
function compileTerm(src: string): ExprFn | undefined {
  if (src.endsWith('.empty()')) {
    const path = compileSimplePath(src.slice(0, -'.empty()'.length));
    return path && ((record, env) => {
      const v = path(record, env);
      return v && (v.length === 0 ? TRUE : FALSE);
    });
  }
  const typeTest = TYPE_TEST_SUFFIX.exec(src);
  if (typeTest) {
    const path = compileSimplePath(src.slice(0, typeTest.index));
    const type = /\bis\s+(\w+)\s*\)$/.exec(typeTest[0])![1]!;
    const keep = TYPE_TESTS[type]!;
    return path && ((record, env) => path(record, env)?.filter(keep));
  }
  return compileSimplePath(src);
}

/** How fhirpath.js types model-less JSON values: integral numbers are Integer, others Decimal. */
const TYPE_TESTS: Record<string, (v: unknown) => boolean> = {
  String: (v) => typeof v === 'string',
  Boolean: (v) => typeof v === 'boolean',
  Integer: (v) => typeof v === 'number' && Number.isInteger(v),
  Decimal: (v) => typeof v === 'number' && !Number.isInteger(v),
};
