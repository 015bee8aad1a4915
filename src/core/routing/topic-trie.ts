// One topic matcher for AMQP topic exchanges, MQTT and STOMP (design.md §4). Words are separated by '.';
// in a binding pattern a whole word '*' matches exactly one word and a whole word '#' zero or more words.
// Words may be empty ('a..b' has three words); the empty string has zero words (as RabbitMQ splits keys),
// so '' matches only '', '#' matches everything including '', and '*' matches any one-word key.
// Values are reference counted: adding the same (pattern, value) twice needs two removes. Patterns that are
// equal once runs of '#' are collapsed ('a.#.#' is 'a.#') are the same pattern.
// Matching walks the trie (no regex, no allocation besides the reused word array and substrings).

class TopicNode<T> {
  children: Map<string, TopicNode<T>> | null = null;
  star: TopicNode<T> | null = null;
  hash: TopicNode<T> | null = null;
  values: Map<T, number> | null = null;

  isEmpty(): boolean {
    return this.values === null && this.star === null && this.hash === null && (this.children === null || this.children.size === 0);
  }
}

/** Splits a key into `out` (reused), returns the word count. '' has zero words. */
export function splitTopicWords(key: string, out: string[]): number {
  if (key.length === 0) return 0;
  let n = 0;
  let start = 0;
  for (;;) {
    const dot = key.indexOf('.', start);
    if (dot < 0) {
      out[n++] = key.substring(start);
      return n;
    }
    out[n++] = key.substring(start, dot);
    start = dot + 1;
  }
}

export class TopicTrie<T> {
  private readonly root = new TopicNode<T>();
  private readonly words: string[] = [];
  private bindingCount = 0;

  /** Number of (pattern, value) additions currently held (with multiplicity). */
  get size(): number {
    return this.bindingCount;
  }

  add(pattern: string, value: T): void {
    const words = this.patternWords(pattern);
    let node = this.root;
    for (const w of words) {
      if (w === '*') node = node.star ??= new TopicNode<T>();
      else if (w === '#') node = node.hash ??= new TopicNode<T>();
      else {
        const children = (node.children ??= new Map());
        let c = children.get(w);
        if (c === undefined) {
          c = new TopicNode<T>();
          children.set(w, c);
        }
        node = c;
      }
    }
    const values = (node.values ??= new Map());
    values.set(value, (values.get(value) ?? 0) + 1);
    this.bindingCount++;
  }

  /** Removes one addition of (pattern, value); returns false if there was none. Prunes empty nodes. */
  remove(pattern: string, value: T): boolean {
    const words = this.patternWords(pattern);
    const path: TopicNode<T>[] = [this.root];
    let node: TopicNode<T> | null | undefined = this.root;
    for (const w of words) {
      node = w === '*' ? node.star : w === '#' ? node.hash : node.children?.get(w);
      if (!node) return false;
      path.push(node);
    }
    const count = node.values?.get(value);
    if (count === undefined) return false;
    if (count > 1) node.values!.set(value, count - 1);
    else {
      node.values!.delete(value);
      if (node.values!.size === 0) node.values = null;
    }
    this.bindingCount--;
    for (let i = words.length; i > 0; i--) {
      const child = path[i]!;
      if (!child.isEmpty()) break;
      const parent = path[i - 1]!;
      const w = words[i - 1]!;
      if (w === '*') parent.star = null;
      else if (w === '#') parent.hash = null;
      else parent.children!.delete(w);
    }
    return true;
  }

  /** Adds every value whose pattern matches `routingKey` to `out`. Not re-entrant (reuses a word array). */
  match(routingKey: string, out: Set<T>): void {
    const n = splitTopicWords(routingKey, this.words);
    this.matchNode(this.root, 0, n, out);
  }

  private matchNode(node: TopicNode<T>, i: number, n: number, out: Set<T>): void {
    const hash = node.hash;
    if (hash !== null) for (let j = i; j <= n; j++) this.matchNode(hash, j, n, out);
    if (i === n) {
      const values = node.values;
      if (values !== null) for (const v of values.keys()) out.add(v);
      return;
    }
    if (node.children !== null) {
      const c = node.children.get(this.words[i]!);
      if (c !== undefined) this.matchNode(c, i + 1, n, out);
    }
    if (node.star !== null) this.matchNode(node.star, i + 1, n, out);
  }

  /** Pattern words with runs of '#' collapsed ('#.#' ≡ '#'), which keeps matching polynomial. */
  private patternWords(pattern: string): string[] {
    const raw: string[] = [];
    const n = splitTopicWords(pattern, raw);
    raw.length = n;
    const out: string[] = [];
    for (const w of raw) if (!(w === '#' && out.length > 0 && out[out.length - 1] === '#')) out.push(w);
    return out;
  }
}
