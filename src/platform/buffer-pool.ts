// Node hands out small Buffers (Buffer.allocUnsafe, Buffer.from: under half of Buffer.poolSize) as slices of one
// shared slab, 8 KB by default; a slab is freed only when every slice of it is. libp2p allocates its small
// long-lived arrays that way (uint8arrays' allocUnsafe: peer id digests, peer store records, multiaddr bytes), so
// on a relay each idle connection's few dozen bytes kept pinned whole 8 KB slabs: ~6-7 KB of external memory per
// reserved device, measured with heap snapshots (relay.memory, issue 10). A smaller slab pins less; allocations of
// half a slab and more get a buffer of their own, as any above 4 KB already do.

/** The relay's slab size: a retained small slice pins at most this much; below ~1 KB each slab serves too few
 * allocations to save work. */
export const RELAY_BUFFER_POOL_BYTES = 1024

/** Makes later Buffer slabs `bytes` long (process-wide: Node has one pool). Never grows the pool. */
export function shrinkBufferPool (bytes: number): void {
  if (bytes < Buffer.poolSize) Buffer.poolSize = bytes
}
