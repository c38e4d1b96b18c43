import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TemplateError, compileFilter, compileTemplate } from './template.js';

const ctx = {
  Process: { ExeName: () => 'java', Pid: () => 42, CommandLine: () => 'java -jar app.jar' },
  Pod: {
    Name: () => 'shop-7d9c',
    Namespace: () => 'default',
    LabelValue: (names: unknown, def: unknown) => {
      const labels: Record<string, string> = { app: 'shop' };
      for (const n of String(names).split(',')) if (labels[n]) return labels[n];
      return def;
    },
    HasContainer: (n: unknown) => n === 'istio-proxy',
    FindContainer: (n: unknown) => ({ Name: () => n }),
    Broken: () => {
      throw new Error('boom');
    },
  },
  Container: { Name: () => 'app' },
  Plain: 'value',
  lower: 'hidden',
};

const render = (src: string) => compileTemplate('t', src).render(ctx);

test('fields, methods with arguments, literals', () => {
  assert.equal(render('{{.Process.ExeName}}'), 'java');
  assert.equal(render('svc-{{ .Process.Pid }}'), 'svc-42');
  assert.equal(render('{{.Pod.LabelValue "service.istio.io/canonical-name,app.kubernetes.io/name,app" ""}}.{{.Pod.Namespace}}'), 'shop.default');
  assert.equal(render('{{.Pod.LabelValue "nope" "fallback"}}'), 'fallback');
  assert.equal(render('{{.Plain}}'), 'value');
  assert.equal(render('{{"a\\"b"}}{{`raw\\n`}}{{7}}{{true}}'), 'a"braw\\n7true');
  assert.equal(render('no actions'), 'no actions');
  assert.equal(render('a {{- " b " -}} c'), 'a b c');
  assert.equal(render('{{/* comment */}}x'), 'x');
  assert.equal(render('{{(.Pod.FindContainer "sidecar").Name}}'), 'sidecar');
});

test('functions and pipes', () => {
  assert.equal(render('{{eq .Container.Name "app"}}'), 'true');
  assert.equal(render('{{eq .Container.Name "x" "app"}}'), 'true');
  assert.equal(render('{{ne .Container.Name "istio-proxy"}}'), 'true');
  assert.equal(render('{{not (eq 1 1)}}'), 'false');
  assert.equal(render('{{and (eq 1 1) (ne 1 2)}}'), 'true');
  assert.equal(render('{{or "" "x"}}'), 'x');
  assert.equal(render('{{printf "%s-%d" .Process.ExeName .Process.Pid}}'), 'java-42');
  assert.equal(render('{{.Process.ExeName | upper}}'), 'JAVA');
  assert.equal(render('{{equalsOrDefault "java" "jvm" .Process.ExeName}}'), 'jvm');
  assert.equal(render('{{len "abc"}}'), '3');
  assert.equal(render('{{lt 1 2}} {{ge 2 2}}'), 'true true');
  assert.equal(render('{{trimSuffix ".jar" "app.jar"}}'), 'app');
});

test('filters must print true or false', () => {
  assert.equal(compileFilter('f', '.Pod.HasContainer "istio-proxy"').test(ctx), true);
  assert.equal(compileFilter('f', 'eq .Container.Name "istio-proxy"').test(ctx), false);
  assert.throws(() => compileFilter('f', '.Process.ExeName').test(ctx), /printed "java", expected true or false/);
  assert.throws(() => compileFilter('f', '  '), /empty/);
});

test('errors: parse errors at compile time, safe field access at render time', () => {
  assert.throws(() => compileTemplate('svc', '{{.Process.ExeName'), (e: unknown) => e instanceof TemplateError && /svc.*unclosed/.test((e as Error).message));
  assert.throws(() => compileTemplate('svc', '{{if .X}}a{{end}}'), /"if" actions are not supported/);
  assert.throws(() => compileTemplate('svc', '{{$x := 1}}'), /variables are not supported/);
  assert.throws(() => compileTemplate('svc', '{{nope 1}}'), /function "nope" not defined/);
  assert.throws(() => compileTemplate('svc', '{{"unterminated}}'), /unclosed|unterminated/);
  assert.throws(() => render('{{.Process.Missing}}'), /can't evaluate field Missing/);
  assert.throws(() => render('{{.lower}}'), /unexported/);
  assert.throws(() => render('{{.Process.Constructor}}'), /can't evaluate field Constructor/);
  assert.throws(() => render('{{.Process.ExeName.Length}}'), /can't evaluate field Length/);
  assert.throws(() => render('{{.Pod.Broken}}'), /executing "{{.Pod.Broken}}": boom/);
  assert.throws(() => render('{{.Plain "arg"}}'), /not a method/);
  assert.throws(() => render('{{"x" 1}}'), /can't give argument/);
});
