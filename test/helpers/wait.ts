// Polling until a condition holds, with a deadline: the one wait loop of the multi-node tests.

/** Resolves with the first value the probe returns that is neither undefined nor false. `what` may be a function,
 * called at the deadline to describe the state the wait ended in. */
export async function waitFor<T> (probe: () => Promise<T | undefined | false> | T | undefined | false, what: string | (() => string), timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${typeof what === 'string' ? what : what()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
