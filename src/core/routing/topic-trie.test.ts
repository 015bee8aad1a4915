import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TopicTrie, splitTopicWords } from './topic-trie.js';

/** Reference matcher: each word followed by '.', '*' -> one word, '#' -> any number of words. */
function referenceRegex(pattern: string): RegExp {
  const words = pattern === '' ? [] : pattern.split('.');
  const esc = (w: string) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const body = words.map((w) => (w === '*' ? '[^.]*\\.' : w === '#' ? '(?:[^.]*\\.)*' : `${esc(w)}\\.`)).join('');
  return new RegExp(`^${body}$`);
}
const referenceMatch = (pattern: string, key: string) => referenceRegex(pattern).test(key === '' ? '' : key.split('.').map((w) => `${w}.`).join(''));

function matches(trie: TopicTrie<string>, key: string): string[] {
  const out = new Set<string>();
  trie.match(key, out);
  return [...out].sort();
}

describe('TopicTrie', () => {
  test('splitTopicWords', () => {
    const w: string[] = [];
    assert.equal(splitTopicWords('', w), 0);
    assert.equal(splitTopicWords('a', w), 1);
    assert.equal(splitTopicWords('a..b', w), 3);
    assert.deepStrictEqual(w.slice(0, 3), ['a', '', 'b']);
    assert.equal(splitTopicWords('.', w), 2);
  });

  test('examples', () => {
    const cases: Array<[string, string, boolean]> = [
      ['a.b.c', 'a.b.c', true],
      ['a.*.c', 'a.b.c', true],
      ['a.*.c', 'a.c', false],
      ['a.#.c', 'a.c', true],
      ['a.#.c', 'a.b.b.c', true],
      ['a.#.c', 'a.b.b.d', false],
      ['#', '', true],
      ['#', 'a.b', true],
      ['#.#', 'a', true],
      ['*', '', false],
      ['*', 'a', true],
      ['*', 'a.b', false],
      ['', '', true],
      ['', 'a', false],
      ['a..b', 'a..b', true],
      ['a.*.b', 'a..b', true],
      ['*.*', '.', true],
      ['#.b', 'b', true],
      ['a.#', 'a', true],
      ['a.#', 'ab', false],
      ['a*', 'ab', false],
      ['a*', 'a*', true],
      ['#.a.#', 'x.a.y', true],
      ['#.a.#.b.#', 'a.b', true],
      ['#.a.#.b.#', 'b.a', false],
    ];
    for (const [pattern, key, expected] of cases) {
      const t = new TopicTrie<string>();
      t.add(pattern, 'v');
      assert.equal(matches(t, key).length === 1, expected, `${pattern} vs ${key}`);
      assert.equal(referenceMatch(pattern, key), expected, `reference ${pattern} vs ${key}`);
    }
  });

  test('reference counting and pruning', () => {
    const t = new TopicTrie<string>();
    t.add('a.*', 'x');
    t.add('a.*', 'x');
    t.add('a.#', 'y');
    assert.equal(t.size, 3);
    assert.deepStrictEqual(matches(t, 'a.b'), ['x', 'y']);
    assert.equal(t.remove('a.*', 'x'), true);
    assert.deepStrictEqual(matches(t, 'a.b'), ['x', 'y']);
    assert.equal(t.remove('a.*', 'x'), true);
    assert.equal(t.remove('a.*', 'x'), false);
    assert.equal(t.remove('zz', 'x'), false);
    assert.deepStrictEqual(matches(t, 'a.b'), ['y']);
    assert.equal(t.remove('a.#.#', 'y'), true); // '#.#' is '#'
    assert.equal(t.size, 0);
    assert.deepStrictEqual(matches(t, 'a.b'), []);
    assert.equal((t as unknown as { root: { isEmpty(): boolean } }).root.isEmpty(), true);
  });

  const word = fc.constantFrom('a', 'b', '', 'c');
  const patternWord = fc.constantFrom('a', 'b', '', '*', '#', '#');
  const join = (ws: string[]) => ws.join('.');
  const key = fc.oneof(fc.constant(''), fc.array(word, { minLength: 1, maxLength: 6 }).map(join));
  const pattern = fc.oneof(fc.constant(''), fc.array(patternWord, { minLength: 1, maxLength: 6 }).map(join));

  test('matches like the regex reference (property)', () => {
    fc.assert(
      fc.property(fc.array(pattern, { maxLength: 12 }), fc.array(key, { minLength: 1, maxLength: 8 }), (patterns, keys) => {
        const t = new TopicTrie<number>();
        patterns.forEach((p, i) => t.add(p, i));
        for (const k of keys) {
          const got = new Set<number>();
          t.match(k, got);
          const want = patterns.map((p, i) => (referenceMatch(p, k) ? i : -1)).filter((i) => i >= 0);
          assert.deepStrictEqual([...got].sort((x, y) => x - y), want, `key '${k}'`);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('add/remove sequences keep matching consistent (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), pattern, fc.integer({ min: 0, max: 3 })), { maxLength: 40 }), key, (ops, k) => {
        const t = new TopicTrie<number>();
        const live = new Map<string, number>();
        for (const [add, p, v] of ops) {
          // patterns equal up to collapsing '#.#' into '#' are the same pattern
          const id = `${p.split('.').filter((w, i, a) => !(w === '#' && a[i - 1] === '#')).join('.')}\u0000${v}`;
          if (add) {
            t.add(p, v);
            live.set(id, (live.get(id) ?? 0) + 1);
          } else {
            const had = (live.get(id) ?? 0) > 0;
            assert.equal(t.remove(p, v), had);
            if (had) live.set(id, live.get(id)! - 1);
          }
        }
        const want = new Set<number>();
        for (const [id, n] of live) {
          const [p, v] = id.split('\u0000');
          if (n > 0 && referenceMatch(p!, k)) want.add(Number(v));
        }
        const got = new Set<number>();
        t.match(k, got);
        assert.deepStrictEqual([...got].sort(), [...want].sort());
      }),
      { numRuns: 1000 },
    );
  });

  test('many hashes on a long key stay fast', () => {
    const t = new TopicTrie<string>();
    t.add('#.#.#.#.#.#.#.#.#.#.z', 'v');
    t.add('#.a.#.a.#.a.#.z', 'w');
    const k = Array.from({ length: 60 }, () => 'a').join('.');
    const start = Date.now();
    assert.deepStrictEqual(matches(t, k), []);
    assert.deepStrictEqual(matches(t, `${k}.z`), ['v', 'w']);
    assert.ok(Date.now() - start < 2000);
  });
});
