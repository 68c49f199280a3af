// The lazily imported WebRTC transport (src/net/webrtc-lazy.ts): a failed import is not cached for the process's
// life (the stand-in keeps announcing /webrtc, so the next use must try again). Unit test with stand-in
// components: the import fails at its first look at the registrar after the real module loaded.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import type { DialTransportOptions } from '@libp2p/interface'
import { LazyWebRTC, type LazyWebRTCComponents } from '../../src/net/webrtc-lazy.ts'

test('a failed WebRTC import is not kept: the next dial imports again', { timeout: 60_000 }, async () => {
  let armed = false
  let imports = 0
  const registrar = { handle: async () => {}, unhandle: async () => {} }
  const components = {
    get registrar () {
      if (armed) { imports++; throw new Error('injected import failure') }
      return registrar
    }
  } as unknown as LazyWebRTCComponents
  const lazy = new LazyWebRTC(components, {}, { wrapHandler: (h) => h, maxInboundStreams: 1, wrapDial: async (_ma, dial) => await dial() })
  await lazy.start()
  armed = true
  const ma = multiaddr('/ip4/127.0.0.1/tcp/1/p2p/12D3KooWGtEvbhGWF78p19deQeHEw8ZoTcZ41Qopn6UD2yoD64uX/p2p-circuit/webrtc')
  const options = { signal: AbortSignal.timeout(30_000) } as unknown as DialTransportOptions
  await assert.rejects(lazy.dial(ma, options), /injected import failure/)
  assert.equal(imports, 1)
  assert.equal(lazy.loaded, false, 'the failed import is forgotten')
  await assert.rejects(lazy.dial(ma, options), /injected import failure/)
  assert.equal(imports, 2, 'the second dial tried the import again')
})
