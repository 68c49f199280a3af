// Calls that arrive while a batch waits for its turn or runs are answered together by the next one: the
// messenger seals the texts of a burst of send() calls in one device batch, so one commit writes the
// session record, the message and outbox pages once for all of them instead of once per message (a
// commit costs ~15 SQLCipher page writes, the larger part of a message's CPU; research/perf.md).

/** What one item of a batch became: its value, or the error only that item failed with. */
export type BatchResult<O> = { readonly ok: O } | { readonly error: unknown }

export class BatchQueue<I, O> {
  readonly #waiting: Array<{ readonly item: I, readonly resolve: (o: O) => void, readonly reject: (err: unknown) => void }> = []
  #queued = false

  /**
   * @param max the most items one batch takes (the rest go in the next).
   * @param schedule runs a job in its turn (the messenger's crypto queue); the batch is taken when the
   *   turn starts, so everything that arrived while waiting goes with it.
   * @param run handles a batch, one result per item in order; if it throws, every item fails with that.
   */
  constructor (
    private readonly max: number,
    private readonly schedule: (job: () => Promise<void>) => Promise<void>,
    private readonly run: (items: I[]) => Promise<Array<BatchResult<O>>>
  ) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError('BatchQueue: max must be a positive integer')
  }

  async add (item: I): Promise<O> {
    return await new Promise<O>((resolve, reject) => {
      this.#waiting.push({ item, resolve, reject })
      this.#start()
    })
  }

  #start (): void {
    if (this.#queued || this.#waiting.length === 0) return
    this.#queued = true
    void this.schedule(async () => {
      this.#queued = false
      const batch = this.#waiting.splice(0, this.max)
      // More than `max` waiting: the rest are queued behind this batch at once.
      this.#start()
      if (batch.length === 0) return
      let results: Array<BatchResult<O>>
      try {
        results = await this.run(batch.map((b) => b.item))
      } catch (err) {
        for (const b of batch) b.reject(err)
        return
      }
      batch.forEach((b, i) => {
        const r = results[i]
        if (r === undefined) b.reject(new Error('BatchQueue: the batch gave no result for this item'))
        else if ('ok' in r) b.resolve(r.ok)
        else b.reject(r.error)
      })
    }).catch(() => { /* each item was settled above */ })
  }
}
