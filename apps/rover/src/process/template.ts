/**
 * A small, safe evaluator for the subset of Go's text/template that skywalking-rover's finder
 * templates use, e.g. `{{.Process.ExeName}}`, `{{.Rover.HostIPV4 "eth0"}}`,
 * `{{.Pod.LabelValue "app.kubernetes.io/name,app" ""}}.{{.Pod.Namespace}}`, and filters such as
 * `eq .Container.Name "istio-proxy"` (a filter is evaluated as `{{` + filter + `}}` and must print
 * "true" or "false").
 *
 * Supported inside `{{ }}`:
 *  - field/method chains from the context: `.A.B`, with arguments for the last method:
 *    `.Pod.LabelValue "a,b" "default"`; a niladic method in the middle of a chain is called;
 *  - literals: "double quoted" (Go escapes \" \\ \n \t), `raw`, integers/floats, true, false;
 *  - parentheses `( ... )` and pipes `a | b` (the piped value becomes the last argument);
 *  - functions: eq, ne, lt, le, gt, ge, not, and, or, len, printf (%s %d %v %q %%),
 *    equalsOrDefault (upstream rover's custom function), lower, upper, trimPrefix, trimSuffix;
 *  - trim markers `{{-` / `-}}` and comments `{{/* ... *\/}}`.
 * Not supported (rejected at compile time): variables, `if`/`range`/`with`/`define` blocks.
 *
 * Safety: only own properties whose names start with an upper-case letter are reachable from the
 * context (so no `constructor`, `__proto__` or prototype methods); functions come from a fixed
 * table; nothing is evaluated as JavaScript.
 */

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

/** A context object: upper-case named values or methods (methods may throw to fail rendering). */
export type TemplateValue = unknown;

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipeline; src: string };

type Pipeline = Command[];
type Command = Operand[];
type Operand =
  | { kind: 'field'; path: string[] } // `.A.B`; empty path = the dot itself
  | { kind: 'ident'; name: string }
  | { kind: 'literal'; value: string | number | boolean }
  | { kind: 'paren'; pipe: Pipeline; path: string[] };

type Token =
  | { t: 'field'; path: string[] }
  | { t: 'ident'; name: string }
  | { t: 'str'; value: string }
  | { t: 'num'; value: number }
  | { t: '(' }
  | { t: ')' }
  | { t: '|' };

const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

function tokenize(src: string, name: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const fail = (msg: string): never => {
    throw new TemplateError(`template ${name}: ${msg} in "{{${src}}}"`);
  };
  while (i < src.length) {
    const c = src[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === '|') {
      out.push({ t: c });
      i++;
      continue;
    }
    if (c === '.') {
      const path: string[] = [];
      // `.` alone, or `.A.B.C`
      while (src[i] === '.') {
        const m = FIELD_NAME.exec(src.slice(i + 1));
        if (!m) {
          if (path.length === 0) {
            i++;
            break;
          }
          fail('bad field reference');
        }
        path.push((m as RegExpExecArray)[0]);
        i += 1 + (m as RegExpExecArray)[0].length;
      }
      out.push({ t: 'field', path });
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let value = '';
      for (;;) {
        if (j >= src.length) fail('unterminated string');
        const d = src[j] as string;
        if (d === '"') break;
        if (d === '\\') {
          const e = src[j + 1];
          const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', "'": "'" };
          if (e === undefined || map[e] === undefined) fail(`unsupported escape \\${e ?? ''}`);
          value += map[e as string];
          j += 2;
          continue;
        }
        value += d;
        j++;
      }
      out.push({ t: 'str', value });
      i = j + 1;
      continue;
    }
    if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) fail('unterminated raw string');
      out.push({ t: 'str', value: src.slice(i + 1, j) });
      i = j + 1;
      continue;
    }
    const num = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?/.exec(src.slice(i));
    if (num && (c !== '-' && c !== '+' ? true : /\d|\./.test(src[i + 1] ?? ''))) {
      out.push({ t: 'num', value: Number(num[0]) });
      i += num[0].length;
      continue;
    }
    const id = FIELD_NAME.exec(src.slice(i));
    if (id) {
      out.push({ t: 'ident', name: id[0] });
      i += id[0].length;
      continue;
    }
    if (c === '$') fail('variables are not supported');
    fail(`unexpected character "${c}"`);
  }
  return out;
}

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue']);

function parsePipeline(tokens: Token[], pos: { i: number }, name: string, src: string, nested: boolean): Pipeline {
  const fail = (msg: string): never => {
    throw new TemplateError(`template ${name}: ${msg} in "{{${src}}}"`);
  };
  const pipe: Pipeline = [];
  let cmd: Command = [];
  while (pos.i < tokens.length) {
    const tok = tokens[pos.i] as Token;
    if (tok.t === ')') {
      if (!nested) fail('unexpected ")"');
      break;
    }
    pos.i++;
    switch (tok.t) {
      case '|':
        if (cmd.length === 0) fail('missing command before "|"');
        pipe.push(cmd);
        cmd = [];
        break;
      case 'field':
        cmd.push({ kind: 'field', path: tok.path });
        break;
      case 'str':
        cmd.push({ kind: 'literal', value: tok.value });
        break;
      case 'num':
        cmd.push({ kind: 'literal', value: tok.value });
        break;
      case 'ident':
        if (tok.name === 'true' || tok.name === 'false') cmd.push({ kind: 'literal', value: tok.name === 'true' });
        else if (KEYWORDS.has(tok.name)) fail(`"${tok.name}" actions are not supported`);
        else if (!(tok.name in FUNCTIONS)) fail(`function "${tok.name}" not defined`);
        else cmd.push({ kind: 'ident', name: tok.name });
        break;
      case '(': {
        const inner = parsePipeline(tokens, pos, name, src, true);
        if ((tokens[pos.i] as Token | undefined)?.t !== ')') fail('unclosed "("');
        pos.i++;
        let path: string[] = [];
        const next = tokens[pos.i];
        if (next && next.t === 'field' && next.path.length > 0) {
          // `(expr).Field` — only when written without a space; tokenizer can't tell, accept it.
          path = next.path;
          pos.i++;
        }
        cmd.push({ kind: 'paren', pipe: inner, path });
        break;
      }
    }
  }
  if (cmd.length === 0) fail(pipe.length ? 'missing command after "|"' : 'empty action');
  pipe.push(cmd);
  return pipe;
}

function parse(name: string, text: string): Node[] {
  const nodes: Node[] = [];
  let i = 0;
  let trimNextText = false;
  while (i < text.length) {
    const open = text.indexOf('{{', i);
    let chunk = open < 0 ? text.slice(i) : text.slice(i, open);
    if (trimNextText) chunk = chunk.replace(/^\s+/, '');
    trimNextText = false;
    if (open < 0) {
      if (chunk) nodes.push({ kind: 'text', text: chunk });
      break;
    }
    let start = open + 2;
    if (text[start] === '-' && /\s/.test(text[start + 1] ?? '')) {
      chunk = chunk.replace(/\s+$/, '');
      start += 1;
    }
    if (chunk) nodes.push({ kind: 'text', text: chunk });
    const close = findClose(text, start);
    if (close < 0) throw new TemplateError(`template ${name}: unclosed action "${text.slice(open)}"`);
    let end = close;
    if (text[close - 1] === '-' && /\s/.test(text[close - 2] ?? '')) {
      end = close - 1;
      trimNextText = true;
    }
    const src = text.slice(start, end).trim();
    i = close + 2;
    if (src.startsWith('/*')) {
      if (!src.endsWith('*/')) throw new TemplateError(`template ${name}: unclosed comment`);
      continue;
    }
    const tokens = tokenize(src, name);
    const pos = { i: 0 };
    const pipe = parsePipeline(tokens, pos, name, src, false);
    nodes.push({ kind: 'action', pipe, src });
  }
  return nodes;
}

/** Finds the `}}` closing an action, skipping over string literals. */
function findClose(text: string, from: number): number {
  let i = from;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      continue;
    }
    if (c === '`') {
      const j = text.indexOf('`', i + 1);
      if (j < 0) return -1;
      i = j + 1;
      continue;
    }
    if (c === '}' && text[i + 1] === '}') return i;
    i++;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------
// evaluation

function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Map) return v.size > 0;
  return true;
}

function compare(name: string, a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw new TemplateError(`${name}: incompatible types for comparison`);
}

function printf(format: unknown, ...args: unknown[]): string {
  if (typeof format !== 'string') throw new TemplateError('printf: format must be a string');
  let n = 0;
  return format.replace(/%([%sdvq])/g, (_m, verb: string) => {
    if (verb === '%') return '%';
    const a = args[n++];
    if (verb === 'd') {
      if (typeof a !== 'number') return `%!d(${printValue(a)})`;
      return String(Math.trunc(a));
    }
    if (verb === 'q') return JSON.stringify(printValue(a));
    return printValue(a);
  });
}

const FUNCTIONS: Record<string, (...args: unknown[]) => unknown> = {
  eq: (a, ...rest) => {
    if (rest.length === 0) throw new TemplateError('eq: missing argument for comparison');
    return rest.some((b) => a === b);
  },
  ne: (a, b, ...rest) => {
    if (rest.length) throw new TemplateError('ne: wrong number of args');
    return a !== b;
  },
  lt: (a, b) => compare('lt', a, b) < 0,
  le: (a, b) => compare('le', a, b) <= 0,
  gt: (a, b) => compare('gt', a, b) > 0,
  ge: (a, b) => compare('ge', a, b) >= 0,
  not: (...a) => {
    if (a.length !== 1) throw new TemplateError('not: wrong number of args');
    return !truthy(a[0]);
  },
  and: (...a) => {
    if (a.length === 0) throw new TemplateError('and: wrong number of args');
    for (const v of a) if (!truthy(v)) return v;
    return a[a.length - 1];
  },
  or: (...a) => {
    if (a.length === 0) throw new TemplateError('or: wrong number of args');
    for (const v of a) if (truthy(v)) return v;
    return a[a.length - 1];
  },
  len: (a) => {
    if (typeof a === 'string' || Array.isArray(a)) return a.length;
    throw new TemplateError('len: argument has no length');
  },
  printf,
  /** upstream's custom function: `equalsOrDefault eq ifSame needs` → ifSame when needs == eq, else needs. */
  equalsOrDefault: (eq, ifSame, needs) => (needs === eq ? ifSame : needs),
  lower: (s) => String(s).toLowerCase(),
  upper: (s) => String(s).toUpperCase(),
  trimPrefix: (prefix, s) => {
    const str = String(s);
    const p = String(prefix);
    return str.startsWith(p) ? str.slice(p.length) : str;
  },
  trimSuffix: (suffix, s) => {
    const str = String(s);
    const p = String(suffix);
    return p && str.endsWith(p) ? str.slice(0, -p.length) : str;
  },
};

function printValue(v: unknown): string {
  if (v === undefined || v === null) return '<no value>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(printValue).join(' ')}]`;
  return '<object>';
}

function member(obj: unknown, field: string, where: string): unknown {
  if (!/^[A-Z]/.test(field)) {
    throw new TemplateError(`can't evaluate field ${field} in ${where}: unexported field`);
  }
  if (obj === null || typeof obj !== 'object' || !Object.prototype.hasOwnProperty.call(obj, field)) {
    throw new TemplateError(`can't evaluate field ${field} in ${where}`);
  }
  return (obj as Record<string, unknown>)[field];
}

/** Walks `path` from `base`, calling niladic methods on the way and the last with `args`. */
function walk(base: unknown, path: string[], args: unknown[], where: string): unknown {
  let cur = base;
  let seen = where;
  path.forEach((field, idx) => {
    const value = member(cur, field, seen);
    const last = idx === path.length - 1;
    seen = `${seen}.${field}`;
    if (typeof value === 'function') {
      cur = value.apply(cur, last ? args : []);
    } else {
      if (last && args.length > 0) throw new TemplateError(`${seen} is not a method but has arguments`);
      cur = value;
    }
  });
  if (path.length === 0 && args.length > 0) throw new TemplateError(`can't give argument to non-function .`);
  return cur;
}

function evalOperand(op: Operand, dot: unknown): unknown {
  switch (op.kind) {
    case 'literal':
      return op.value;
    case 'field':
      return walk(dot, op.path, [], '');
    case 'paren':
      return walk(evalPipeline(op.pipe, dot), op.path, [], '(...)');
    case 'ident':
      return (FUNCTIONS[op.name] as (...a: unknown[]) => unknown)();
  }
}

function evalCommand(cmd: Command, dot: unknown, piped: unknown[]): unknown {
  const [head, ...rest] = cmd as [Operand, ...Operand[]];
  const args = () => [...rest.map((o) => evalOperand(o, dot)), ...piped];
  if (head.kind === 'ident') {
    return (FUNCTIONS[head.name] as (...a: unknown[]) => unknown)(...args());
  }
  if (head.kind === 'field') return walk(dot, head.path, args(), '');
  if (rest.length > 0 || piped.length > 0) {
    throw new TemplateError(`can't give argument to non-function ${head.kind === 'literal' ? JSON.stringify(head.value) : '(...)'}`);
  }
  return evalOperand(head, dot);
}

function evalPipeline(pipe: Pipeline, dot: unknown): unknown {
  let value: unknown;
  pipe.forEach((cmd, idx) => {
    value = evalCommand(cmd, dot, idx === 0 ? [] : [value]);
  });
  return value;
}

export interface CompiledTemplate {
  readonly name: string;
  readonly source: string;
  /** Renders against a context; throws {@link TemplateError} (or the error a method threw). */
  render(context: unknown): string;
}

/** Parses a template once; throws {@link TemplateError} naming `name` when the text is invalid. */
export function compileTemplate(name: string, source: string): CompiledTemplate {
  const nodes = parse(name, source);
  return {
    name,
    source,
    render(context: unknown): string {
      let out = '';
      for (const n of nodes) {
        if (n.kind === 'text') {
          out += n.text;
          continue;
        }
        try {
          out += printValue(evalPipeline(n.pipe, context));
        } catch (err) {
          const msg = err instanceof Error ? err.message : String(err);
          throw new TemplateError(`template ${name}: executing "{{${n.src}}}": ${msg}`);
        }
      }
      return out;
    },
  };
}

/** Compiles a filter the way upstream does (`{{` + filter + `}}`); `test` requires "true"/"false". */
export function compileFilter(name: string, filter: string): { source: string; test(context: unknown): boolean } {
  if (filter.trim() === '') throw new TemplateError(`filter ${name} is empty`);
  const tpl = compileTemplate(name, `{{${filter}}}`);
  return {
    source: filter,
    test(context: unknown): boolean {
      const result = tpl.render(context).trim();
      if (result === 'true') return true;
      if (result === 'false') return false;
      throw new TemplateError(`filter ${name} "${filter}" printed "${result}", expected true or false`);
    },
  };
}
