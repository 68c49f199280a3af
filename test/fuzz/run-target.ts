// Child process of test/fuzz/decoders.test.ts: runs one fuzz target on request, answers with its figures.
import { fuzz } from './harness.ts'
import { TARGETS } from './targets.ts'
import { serveParent } from '../helpers/procs.ts'

serveParent({
  run: async (a: { index: number, runs: number, seed?: number }) => {
    const spec = TARGETS[a.index]
    if (spec === undefined) throw new RangeError(`no fuzz target ${a.index}`)
    const target = await spec.load()
    return fuzz(target, a.runs, a.seed)
  }
})
