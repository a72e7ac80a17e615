/** A promise and the function that resolves it: for tests that hold one step until another. */
export interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
}

/** A new {@link Deferred} (Node 20 has no `Promise.withResolvers`). */
export function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}
