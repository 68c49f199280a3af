// The error of src/net/yamux-window.ts and src/net/muxer-writes.ts when @libp2p/yamux (or the @libp2p/utils muxer it
// extends) no longer has the members they adjust: thrown at once, so an upgrade fails every connection test
// instead of quietly falling back to the library's own behaviour.
export class YamuxShapeError extends Error {
  constructor (what: string) {
    super(`@libp2p/yamux changed shape (${what}): check src/net/yamux-window.ts and src/net/muxer-writes.ts against the new version`)
    this.name = 'YamuxShapeError'
  }
}
