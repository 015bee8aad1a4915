// Bugs are assertions that fail loudly (design.md §8).
export class AssertionFailed extends Error {
  override name = 'AssertionFailed';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionFailed(message);
}

export function unreachable(value: never, message = 'unreachable'): never {
  throw new AssertionFailed(`${message}: ${String(value)}`);
}
