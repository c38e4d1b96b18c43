import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseStat, statFields } from './procfs';

/** Every field after comm, split whole: what statFields must agree with. */
const allFields = (text: string): string[] =>
  text
    .slice(text.lastIndexOf(')') + 2)
    .trim()
    .split(/\s+/);

const hostStats = (): string[] =>
  readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .flatMap((pid) => {
      try {
        return [readFileSync(`/proc/${pid}/stat`, 'utf8')];
      } catch {
        return []; // exited meanwhile
      }
    });

describe('statFields', () => {
  it("gives the fields of every host process's /proc/PID/stat as a full split does", () => {
    const texts = hostStats();
    assert.ok(texts.length > 1);
    for (const text of texts) {
      const all = allFields(text);
      const wanted = [3, 4, 9, 14, 15, 20, 22, all.length + 2];
      assert.deepEqual(
        statFields(text, wanted),
        wanted.map((n) => all[n - 3]),
        text,
      );
    }
  });

  it('starts after the last ")" of comm, which may hold spaces and parentheses', () => {
    const text = readFileSync('/proc/self/stat', 'utf8');
    const odd = text.replace(/\(.*\)/, '(a) b (c)');
    assert.deepEqual(statFields(odd, [3, 22]), statFields(text, [3, 22]));
    const stat = parseStat(odd);
    assert.equal(stat?.comm, 'a) b (c');
    assert.equal(stat?.pid, process.pid);
    assert.equal(stat?.ppid, process.ppid);
  });

  it('is undefined past the last field or without comm', () => {
    const text = readFileSync('/proc/self/stat', 'utf8');
    assert.equal(statFields(text, [allFields(text).length + 3]), undefined);
    assert.equal(statFields('12 S 1', [3]), undefined);
  });
});
