// The UDA/ContentDirectory SearchCriteria grammar (CDS:1 §2.5.5) → a typed AST. Pure.
//   searchCrit  ::= searchExp | '*'
//   searchExp   ::= relExp | searchExp 'and' searchExp | searchExp 'or' searchExp | '(' searchExp ')'
//   relExp      ::= property binOp quotedVal | property 'exists' ('true' | 'false')
//   binOp       ::= '=' | '!=' | '<' | '<=' | '>' | '>=' | 'contains' | 'doesNotContain' | 'derivedfrom'
// `and` binds tighter than `or`. Every problem is UPnP error 708.
//
// Leniency, each seen from real control points: operator words and booleans in any letter case
// (`derivedFrom`, `True`), no spaces around `=` (`dc:title="x"`), and CDS:2's `startsWith`.
import { UpnpError } from './service.js';

export const SEARCH_PROPERTIES = ['upnp:class', 'dc:title', 'dc:creator', 'upnp:artist', 'upnp:album', 'upnp:genre', 'dc:date', '@id', '@parentID', '@refID'] as const;
export type SearchProperty = (typeof SEARCH_PROPERTIES)[number];

export type RelOp = '=' | '!=' | '<' | '<=' | '>' | '>=';
export type StringOp = 'contains' | 'doesNotContain' | 'derivedfrom' | 'startsWith';

export type SearchExpr =
  | { kind: 'all' }
  | { kind: 'and' | 'or'; left: SearchExpr; right: SearchExpr }
  | { kind: 'compare'; property: SearchProperty; op: RelOp | StringOp; value: string }
  | { kind: 'exists'; property: SearchProperty; value: boolean };

/** Longer criteria and deeper nesting than any real client sends; they bound work and recursion. */
export const MAX_CRITERIA_LENGTH = 4096;
const MAX_DEPTH = 32;

type Token =
  | { t: 'lparen' | 'rparen' | 'star'; at: number }
  | { t: 'word'; v: string; at: number }
  | { t: 'op'; v: RelOp; at: number }
  | { t: 'string'; v: string; at: number };

const STRING_OPS: ReadonlyMap<string, StringOp> = new Map([
  ['contains', 'contains'],
  ['doesnotcontain', 'doesNotContain'],
  ['derivedfrom', 'derivedfrom'],
  ['startswith', 'startsWith'],
]);

const PROPERTY_BY_LOWER: ReadonlyMap<string, SearchProperty> = new Map(SEARCH_PROPERTIES.map((p) => [p.toLowerCase(), p]));

function fail(why: string): never {
  throw new UpnpError(708, `Unsupported or invalid search criteria: ${why}`);
}

function isSpace(c: string): boolean {
  // UDA wChar: space, tab, LF, VT, FF, CR.
  return c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';
}

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (isSpace(c)) {
      i++;
      continue;
    }
    const at = i;
    if (c === '(') {
      out.push({ t: 'lparen', at });
      i++;
    } else if (c === ')') {
      out.push({ t: 'rparen', at });
      i++;
    } else if (c === '*') {
      out.push({ t: 'star', at });
      i++;
    } else if (c === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= s.length) fail(`unterminated string starting at ${at}`);
        const d = s[i]!;
        if (d === '"') {
          i++;
          break;
        }
        if (d === '\\') {
          const e = s[i + 1];
          // Only \" and \\ are escapes in the grammar (escapedQuote); anything else is an error.
          if (e !== '"' && e !== '\\') fail(`bad escape at ${i}`);
          v += e;
          i += 2;
          continue;
        }
        v += d;
        i++;
      }
      out.push({ t: 'string', v, at });
    } else if (c === '=' || c === '<' || c === '>' || c === '!') {
      const two = s.slice(i, i + 2);
      if (two === '!=' || two === '<=' || two === '>=') {
        out.push({ t: 'op', v: two, at });
        i += 2;
      } else if (c === '!') {
        fail(`unexpected '!' at ${at}`);
      } else {
        out.push({ t: 'op', v: c as RelOp, at });
        i++;
      }
    } else if (/[A-Za-z0-9@:_.\-]/.test(c)) {
      let j = i;
      while (j < s.length && /[A-Za-z0-9@:_.\-]/.test(s[j]!)) j++;
      out.push({ t: 'word', v: s.slice(i, j), at });
      i = j;
    } else {
      fail(`unexpected character at ${at}`);
    }
  }
  return out;
}

class Parser {
  private i = 0;
  constructor(private readonly toks: Token[]) {}

  private peek(): Token | undefined {
    return this.toks[this.i];
  }

  private isWord(tok: Token | undefined, w: string): boolean {
    return tok?.t === 'word' && tok.v.toLowerCase() === w;
  }

  parseAll(): SearchExpr {
    const e = this.or(0);
    const rest = this.peek();
    if (rest) fail(`unexpected token at ${rest.at}`);
    return e;
  }

  private or(depth: number): SearchExpr {
    let left = this.and(depth);
    while (this.isWord(this.peek(), 'or')) {
      this.i++;
      left = { kind: 'or', left, right: this.and(depth) };
    }
    return left;
  }

  private and(depth: number): SearchExpr {
    let left = this.primary(depth);
    while (this.isWord(this.peek(), 'and')) {
      this.i++;
      left = { kind: 'and', left, right: this.primary(depth) };
    }
    return left;
  }

  private primary(depth: number): SearchExpr {
    if (depth > MAX_DEPTH) fail('nested too deeply');
    const tok = this.peek();
    if (!tok) fail('unexpected end');
    if (tok.t === 'lparen') {
      this.i++;
      const e = this.or(depth + 1);
      const close = this.peek();
      if (close?.t !== 'rparen') fail(`missing ')' for '(' at ${tok.at}`);
      this.i++;
      return e;
    }
    if (tok.t !== 'word') fail(`expected a property at ${tok.at}`);
    const property = PROPERTY_BY_LOWER.get(tok.v.toLowerCase());
    if (!property) fail(`unsupported property ${tok.v}`);
    this.i++;
    const opTok = this.peek();
    if (!opTok) fail('missing operator');
    this.i++;
    if (opTok.t === 'word' && opTok.v.toLowerCase() === 'exists') {
      const b = this.peek();
      if (b?.t !== 'word' || !/^(true|false)$/i.test(b.v)) fail(`exists needs true or false at ${b?.at ?? 'end'}`);
      this.i++;
      return { kind: 'exists', property, value: b.v.toLowerCase() === 'true' };
    }
    let op: RelOp | StringOp;
    if (opTok.t === 'op') op = opTok.v;
    else if (opTok.t === 'word' && STRING_OPS.has(opTok.v.toLowerCase())) op = STRING_OPS.get(opTok.v.toLowerCase())!;
    else fail(`unknown operator at ${opTok.at}`);
    const val = this.peek();
    if (val?.t !== 'string') fail(`expected a quoted value at ${val?.at ?? 'end'}`);
    this.i++;
    return { kind: 'compare', property, op, value: val.v };
  }
}

/** Parses SearchCriteria; `*` (or an empty string, which some clients send for "everything") → all. */
export function parseSearchCriteria(criteria: string): SearchExpr {
  if (criteria.length > MAX_CRITERIA_LENGTH) fail('too long');
  const toks = tokenize(criteria);
  if (toks.length === 0) return { kind: 'all' };
  if (toks.length === 1 && toks[0]!.t === 'star') return { kind: 'all' };
  return new Parser(toks).parseAll();
}

/** Every property an expression mentions (to decide cheaply what a search can match). */
export function propertiesOf(e: SearchExpr, into = new Set<SearchProperty>()): Set<SearchProperty> {
  switch (e.kind) {
    case 'all':
      return into;
    case 'and':
    case 'or':
      propertiesOf(e.left, into);
      return propertiesOf(e.right, into);
    case 'compare':
    case 'exists':
      into.add(e.property);
      return into;
  }
}
