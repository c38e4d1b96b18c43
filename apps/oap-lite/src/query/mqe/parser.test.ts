import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { metricsOf, MqeSyntaxError, parseMqe } from './parser';

const syntaxError = (expression: string): string => {
  try {
    parseMqe(expression);
  } catch (err) {
    assert.ok(err instanceof MqeSyntaxError, String(err));
    return err.message;
  }
  assert.fail(`${JSON.stringify(expression)} parsed`);
};

describe('MQE parser', () => {
  it('reads metrics with and without label selectors', () => {
    assert.deepEqual(parseMqe('continuous_profiling_process_cpu'), {
      kind: 'metric',
      name: 'continuous_profiling_process_cpu',
      labels: [],
    });
    assert.deepEqual(parseMqe(`m{uri='/a,/b', _="x" , p = '50'}`), {
      kind: 'metric',
      name: 'm',
      labels: [
        { name: 'uri', value: '/a,/b' },
        { name: '_', value: 'x' },
        { name: 'p', value: '50' },
      ],
    });
    assert.deepEqual(parseMqe('m{}'), { kind: 'metric', name: 'm', labels: [] });
    assert.deepEqual(parseMqe("\n ( m\t{uri='a}b'} )\n"), {
      kind: 'parens',
      expr: { kind: 'metric', name: 'm', labels: [{ name: 'uri', value: 'a}b' }] },
    });
  });

  it('gives binary operators the grammar precedence, left to right', () => {
    const tree = parseMqe('a + b * 2 - c > bool 1 && d || e / f % g');
    const show = (n: ReturnType<typeof parseMqe>): string =>
      n.kind === 'binary'
        ? `(${show(n.left)} ${n.op} ${show(n.right)})`
        : n.kind === 'metric'
          ? n.name
          : n.kind === 'scalar'
            ? String(n.value)
            : '?';
    assert.equal(show(tree), '(((((a + (b * 2)) - c) > bool 1) && d) || ((e / f) % g))');
  });

  it('accepts every function form of MQEParser.g4 and lists their metrics in visit order', () => {
    const expressions = [
      'avg(a)',
      'latest(a) + count(b)',
      'abs(ceil(floor(a)))',
      'round(a, 2)',
      'increase(a, 5) * rate(b, 2)',
      'view_as_seq(a, b)',
      'is_present(a, b)',
      "top_n(a, 10, des, attr0='x', attr1!='y')",
      'top_n_of(top_n(a, 1, asc), top_n(b, 2, DES), 3, Asc)',
      "relabels(a, uri='x', uri='y')",
      'aggregate_labels(a, sum(uri, _))',
      'aggregate_labels(a, max)',
      'sort_values(a, 3, asc, avg)',
      'sort_values(a, 3, asc, )',
      'sort_label_values(a, des, uri, p)',
      'baseline(a, upper)',
      '(a == b) != 1.5',
    ];
    for (const e of expressions) {
      assert.doesNotThrow(() => parseMqe(e), e);
    }
    assert.deepEqual(
      metricsOf(parseMqe('top_n_of(top_n(a, 1, asc), top_n(b, 2, des), 3, asc) + avg(c{x="1"}) * 2')).map(
        (m) => m.name,
      ),
      ['a', 'b', 'c'],
    );
  });

  it('ignores what follows a complete expression, as the OAP (which parses without EOF) does', () => {
    assert.deepEqual(parseMqe('a b c'), { kind: 'metric', name: 'a', labels: [] });
    assert.deepEqual(parseMqe('a )'), { kind: 'metric', name: 'a', labels: [] });
    assert.deepEqual(parseMqe('1.x'), { kind: 'scalar', value: 1 });
  });

  it('reports syntax errors with the line:column prefix and ANTLR wording', () => {
    assert.equal(syntaxError(''), "line 1:0 no viable alternative at input '<EOF>'");
    assert.equal(syntaxError('$'), "line 1:0 token recognition error at: '$'");
    assert.equal(syntaxError('a $'), "line 1:2 token recognition error at: '$'");
    assert.equal(syntaxError('a !b'), "line 1:2 token recognition error at: '!b'");
    assert.equal(syntaxError("a{uri='/a}"), "line 1:6 token recognition error at: ''/a}'");
    assert.equal(syntaxError('a{'), "line 1:2 missing {NAME_STRING, '_'} at '<EOF>'");
    assert.equal(syntaxError('a{uri=}'), "line 1:6 mismatched input '}' expecting VALUE_STRING");
    assert.equal(syntaxError("a{uri='x'"), "line 1:9 missing '}' at '<EOF>'");
    assert.equal(syntaxError("a{uri='x' b}"), "line 1:10 mismatched input 'b' expecting '}'");
    assert.equal(syntaxError('(a'), "line 1:2 missing ')' at '<EOF>'");
    assert.equal(syntaxError('a +'), "line 1:3 no viable alternative at input '<EOF>'");
    assert.equal(syntaxError('-1'), "line 1:0 no viable alternative at input '-'");
    assert.equal(syntaxError('avg a'), "line 1:4 mismatched input 'a' expecting '('");
    assert.equal(syntaxError('round(a)'), "line 1:7 mismatched input ')' expecting ','");
    assert.equal(syntaxError('top_n(a, 1, up)'), "line 1:12 mismatched input 'up' expecting {'asc', 'des'}");
    assert.equal(syntaxError('a\n  + {'), "line 2:4 no viable alternative at input '{'");
    // keywords are not metric names
    assert.equal(syntaxError('value'), "line 1:0 no viable alternative at input 'value'");
  });
});
