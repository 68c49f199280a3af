// Endpoints on the product's Device (seal/openEnvelope) and store: filled in once src/e2ee lands.
import type { BenchContext } from '../harness.ts'
import type { Endpoint } from './central.ts'

export async function productEndpointPair (_dir: string, _ctx: BenchContext): Promise<[Endpoint, Endpoint] | undefined> {
  return undefined
}
