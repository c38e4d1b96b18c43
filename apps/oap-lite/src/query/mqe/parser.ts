/**
 * A parser for SkyWalking's MQE (Metrics Query Expression) language as the OAP 10.x accepts it:
 * the tokens of its MQELexer.g4 and the expressions of MQEParser.g4, written by hand. It gives a
 * small syntax tree, or an MqeSyntaxError whose message has the OAP's form
 * ("line 1:<column> <what went wrong>"; the wording follows ANTLR's, though ANTLR's exact
 * "expecting" sets are not reproduced everywhere).
 *
 * Like the OAP, which parses with the grammar's `expression` rule rather than `root` (which would
 * demand EOF), a complete expression followed by more tokens is accepted and the rest ignored;
 * the token right after it is still read, so a character no token can start there is an error.
 */

export type MqeNode =
  | { kind: 'metric'; name: string; labels: MqeLabel[] }
  | { kind: 'scalar'; value: number }
  | { kind: 'parens'; expr: MqeNode }
  | { kind: 'binary'; op: string; left: MqeNode; right: MqeNode }
  /** Every function form; `args` are its expression and metric operands, in order. */
  | { kind: 'call'; fn: string; args: MqeNode[]; topN?: { n: number; order: 'asc' | 'des' } };

export interface MqeLabel {
  name: string;
  /** Without the quotes. */
  value: string;
}

export class MqeSyntaxError extends Error {
  override name = 'MqeSyntaxError';
}

// ------------------------------------------------------------------ lexer

type TokenType =
  | 'EOF'
  | 'ERROR'
  | 'NAME_STRING'
  | 'INTEGER'
  | 'DECIMAL'
  | 'VALUE_STRING'
  | 'GENERAL_LABEL_NAME'
  | 'KEYWORD'
  | 'SYMBOL';

interface Token {
  type: TokenType;
  /** For KEYWORD the keyword in lower case, for SYMBOL the symbol, otherwise the source text. */
  value: string;
  /** Source text (for messages). */
  text: string;
  line: number;
  column: number;
}

/** Case-sensitive keywords of MQELexer.g4. */
const KEYWORDS = new Set([
  'avg',
  'count',
  'latest',
  'max',
  'min',
  'sum',
  'abs',
  'ceil',
  'floor',
  'round',
  'increase',
  'rate',
  'top_n',
  'top_n_of',
  'view_as_seq',
  'is_present',
  'relabels',
  'aggregate_labels',
  'sort_values',
  'sort_label_values',
  'attr0',
  'attr1',
  'attr2',
  'attr3',
  'attr4',
  'attr5',
  'baseline',
  'value',
  'upper',
  'lower',
]);
/** Keywords the lexer matches in any case. */
const CASE_INSENSITIVE = new Set(['bool', 'asc', 'des']);
const TWO_CHAR = new Set(['==', '!=', '<=', '>=', '&&', '||']);
const ONE_CHAR = new Set([...'.,()[]{}=-+*/%<>']);
const NAME_LETTER = /[A-Za-z0-9_]/;

const display = (text: string): string => text.replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');

/** The tokens up to the first character no token can start; that one becomes an ERROR token. */
const tokenize = (source: string): Token[] => {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const advance = (to: number) => {
    for (; i < to; i++) {
      if (source[i] === '\n') {
        line++;
        lineStart = i + 1;
      }
    }
  };
  const push = (type: TokenType, text: string, value = text) =>
    tokens.push({ type, value, text, line, column: i - lineStart });
  while (i < source.length) {
    const c = source[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      advance(i + 1);
      continue;
    }
    if (c === "'" || c === '"') {
      const close = source.indexOf(c, i + 1);
      if (close < 0) {
        push('ERROR', source.slice(i));
        return tokens;
      }
      const text = source.slice(i, close + 1);
      push('VALUE_STRING', text, text.slice(1, -1));
      advance(close + 1);
      continue;
    }
    if (NAME_LETTER.test(c)) {
      let j = i;
      while (j < source.length && NAME_LETTER.test(source[j]!)) j++;
      const word = source.slice(i, j);
      if (/^\d+$/.test(word)) {
        // DECIMAL (digits '.' digits) is longer than INTEGER when it matches.
        let k = j;
        if (source[j] === '.') while (k + 1 < source.length && /\d/.test(source[k + 1]!)) k++;
        if (k > j) {
          push('DECIMAL', source.slice(i, k + 1));
          advance(k + 1);
        } else {
          push('INTEGER', word);
          advance(j);
        }
        continue;
      }
      if (word === '_') push('GENERAL_LABEL_NAME', word);
      else if (KEYWORDS.has(word)) push('KEYWORD', word);
      else if (CASE_INSENSITIVE.has(word.toLowerCase())) push('KEYWORD', word, word.toLowerCase());
      else push('NAME_STRING', word);
      advance(j);
      continue;
    }
    const two = source.slice(i, i + 2);
    if (TWO_CHAR.has(two)) {
      push('SYMBOL', two);
      advance(i + 2);
      continue;
    }
    if (ONE_CHAR.has(c)) {
      push('SYMBOL', c);
      advance(i + 1);
      continue;
    }
    // '!', '&' and '|' start a two-character token: ANTLR reports the character that broke it too.
    push('ERROR', '!&|'.includes(c) ? source.slice(i, i + 2) : c);
    return tokens;
  }
  push('EOF', '<EOF>');
  return tokens;
};

// ------------------------------------------------------------------ parser

const AGGREGATIONS = ['avg', 'count', 'latest', 'sum', 'max', 'min'];
const LABEL_AGGREGATIONS = ['avg', 'sum', 'max', 'min'];
/** Binary operators, loosest first (ANTLR gives earlier alternatives the higher precedence). */
const PRECEDENCE: ReadonlyArray<ReadonlySet<string>> = [
  new Set(['&&', '||']),
  new Set(['==', '!=', '<=', '<', '>=', '>']),
  new Set(['+', '-']),
  new Set(['*', '/', '%']),
];

class Parser {
  private at = 0;

  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    const t = this.tokens[this.at]!;
    if (t.type === 'ERROR') {
      throw new MqeSyntaxError(`line ${t.line}:${t.column} token recognition error at: '${display(t.text)}'`);
    }
    return t;
  }

  private fail(token: Token, message: string): never {
    throw new MqeSyntaxError(`line ${token.line}:${token.column} ${message}`);
  }

  private is(type: TokenType, value?: string): boolean {
    const t = this.peek();
    return t.type === type && (value === undefined || t.value === value);
  }

  private next(): Token {
    const t = this.peek();
    this.at++;
    return t;
  }

  /** Consumes the expected token or fails the way ANTLR reports a mismatch. */
  private expect(expected: string, type: TokenType, value?: string): Token {
    const t = this.peek();
    if (t.type === type && (value === undefined || t.value === value)) return this.next();
    if (t.type === 'EOF') this.fail(t, `missing ${expected} at '<EOF>'`);
    this.fail(t, `mismatched input '${display(t.text)}' expecting ${expected}`);
  }

  private symbol(s: string): Token {
    return this.expect(`'${s}'`, 'SYMBOL', s);
  }

  private keywordOf(options: readonly string[]): string | undefined {
    const t = this.peek();
    return t.type === 'KEYWORD' && options.includes(t.value) ? t.value : undefined;
  }

  /** The whole input: one expression; what follows it is left alone (see the file comment). */
  parseRoot(): MqeNode {
    const node = this.expression(0);
    this.peek(); // ANTLR reads the next token to end the expression
    return node;
  }

  private expression(level: number): MqeNode {
    if (level === PRECEDENCE.length) return this.primary();
    let left = this.expression(level + 1);
    for (;;) {
      const t = this.peek();
      if (t.type !== 'SYMBOL' || !PRECEDENCE[level]!.has(t.value)) return left;
      this.next();
      let op = t.value;
      if (level === 1 && this.is('KEYWORD', 'bool')) {
        this.next();
        op += ' bool';
      }
      const right = this.expression(level + 1);
      left = { kind: 'binary', op, left, right };
    }
  }

  private primary(): MqeNode {
    const t = this.peek();
    if (t.type === 'NAME_STRING') return this.metric();
    if (t.type === 'INTEGER' || t.type === 'DECIMAL') {
      this.next();
      return { kind: 'scalar', value: Number(t.text) };
    }
    if (t.type === 'SYMBOL' && t.value === '(') {
      // `( expression )`, also the grammar's aggregation with an empty name
      this.next();
      const expr = this.expression(0);
      this.symbol(')');
      return { kind: 'parens', expr };
    }
    if (t.type === 'KEYWORD') {
      const fn = t.value;
      switch (fn) {
        case 'avg':
        case 'count':
        case 'latest':
        case 'sum':
        case 'max':
        case 'min':
        case 'abs':
        case 'ceil':
        case 'floor':
          return this.call(fn, () => [this.expression(0)]);
        case 'round':
          return this.call(fn, () => {
            const e = this.expression(0);
            this.symbol(',');
            this.integer();
            return [e];
          });
        case 'increase':
        case 'rate':
          return this.call(fn, () => {
            const m = this.metric();
            this.symbol(',');
            this.integer();
            return [m];
          });
        case 'view_as_seq':
        case 'is_present':
          return this.call(fn, () => {
            const list = [this.expression(0)];
            while (this.is('SYMBOL', ',')) {
              this.next();
              list.push(this.expression(0));
            }
            return list;
          });
        case 'top_n':
          return this.topN();
        case 'top_n_of':
          return this.call(fn, () => {
            const list = [this.topN()];
            this.symbol(',');
            while (this.is('KEYWORD', 'top_n')) {
              list.push(this.topN());
              this.symbol(',');
            }
            this.integer();
            this.symbol(',');
            this.order();
            return list;
          });
        case 'relabels':
          return this.call(fn, () => {
            const e = this.expression(0);
            this.symbol(',');
            this.label();
            this.symbol(',');
            this.label();
            return [e];
          });
        case 'aggregate_labels':
          return this.call(fn, () => {
            const e = this.expression(0);
            this.symbol(',');
            if (!this.keywordOf(LABEL_AGGREGATIONS)) this.fail(this.peek(), this.noViable());
            this.next();
            if (this.is('SYMBOL', '(')) {
              this.next();
              this.labelNames();
              this.symbol(')');
            }
            return [e];
          });
        case 'sort_values':
          return this.call(fn, () => {
            const e = this.expression(0);
            this.symbol(',');
            this.integer();
            this.symbol(',');
            this.order();
            this.symbol(',');
            if (this.keywordOf(AGGREGATIONS)) this.next(); // the aggregation may be empty
            return [e];
          });
        case 'sort_label_values':
          return this.call(fn, () => {
            const e = this.expression(0);
            this.symbol(',');
            this.order();
            this.symbol(',');
            this.labelNames();
            return [e];
          });
        case 'baseline':
          return this.call(fn, () => {
            const m = this.metric();
            this.symbol(',');
            if (!this.keywordOf(['value', 'upper', 'lower'])) this.fail(this.peek(), this.noViable());
            this.next();
            return [m];
          });
        default:
          break;
      }
    }
    this.fail(t, this.noViable());
  }

  private noViable(): string {
    const t = this.peek();
    return `no viable alternative at input '${display(t.text)}'`;
  }

  private call(fn: string, body: () => MqeNode[]): MqeNode {
    this.next();
    this.symbol('(');
    const args = body();
    this.symbol(')');
    return { kind: 'call', fn, args };
  }

  private metric(): MqeNode {
    const name = this.expect('NAME_STRING', 'NAME_STRING').text;
    const labels: MqeLabel[] = [];
    if (this.is('SYMBOL', '{')) {
      this.next();
      if (!this.is('SYMBOL', '}')) {
        labels.push(this.label());
        while (this.is('SYMBOL', ',')) {
          this.next();
          labels.push(this.label());
        }
      }
      this.symbol('}');
    }
    return { kind: 'metric', name, labels };
  }

  private labelName(): string {
    const t = this.peek();
    if (t.type === 'NAME_STRING' || t.type === 'GENERAL_LABEL_NAME') return this.next().text;
    return this.expect("{NAME_STRING, '_'}", 'NAME_STRING').text;
  }

  private label(): MqeLabel {
    const name = this.labelName();
    this.symbol('=');
    const value = this.expect('VALUE_STRING', 'VALUE_STRING').value;
    return { name, value };
  }

  private labelNames(): void {
    this.labelName();
    while (this.is('SYMBOL', ',')) {
      this.next();
      this.labelName();
    }
  }

  private integer(): number {
    return Number(this.expect('INTEGER', 'INTEGER').text);
  }

  private order(): 'asc' | 'des' {
    if (!this.keywordOf(['asc', 'des'])) this.expect("{'asc', 'des'}", 'KEYWORD', 'asc');
    return this.next().value as 'asc' | 'des';
  }

  private topN(): MqeNode {
    let topN: { n: number; order: 'asc' | 'des' } = { n: 0, order: 'des' };
    const node = this.call('top_n', () => {
      const m = this.metric();
      this.symbol(',');
      const n = this.integer();
      this.symbol(',');
      topN = { n, order: this.order() };
      // (COMMA attributeList)?: attributes like attr0='x' or attr1!='y'
      while (this.is('SYMBOL', ',')) {
        this.next();
        if (!this.keywordOf(['attr0', 'attr1', 'attr2', 'attr3', 'attr4', 'attr5'])) {
          this.fail(this.peek(), this.noViable());
        }
        this.next();
        if (this.is('SYMBOL', '=') || this.is('SYMBOL', '!=')) this.next();
        else this.expect("{'=', '!='}", 'SYMBOL', '=');
        this.expect('VALUE_STRING', 'VALUE_STRING');
      }
      return [m];
    });
    return { ...(node as Extract<MqeNode, { kind: 'call' }>), topN };
  }
}

/** Parses an MQE expression; throws an MqeSyntaxError with the OAP-style message. */
export const parseMqe = (expression: string): MqeNode => new Parser(tokenize(expression)).parseRoot();

/** The metrics an expression reads, in the order the OAP visits them (left to right). */
export const metricsOf = (node: MqeNode): Array<Extract<MqeNode, { kind: 'metric' }>> => {
  switch (node.kind) {
    case 'metric':
      return [node];
    case 'scalar':
      return [];
    case 'parens':
      return metricsOf(node.expr);
    case 'binary':
      return [...metricsOf(node.left), ...metricsOf(node.right)];
    case 'call':
      return node.args.flatMap(metricsOf);
  }
};
