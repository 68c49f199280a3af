// The relay provider record (issue 16): golden bytes, an independent signature check with node:crypto, bounds,
// and every way a record is refused (forged, oversized, foreign addresses, another peer's record).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createPublicKey, verify } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { generateKeyPair, generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { checkedAddress, DNS_CHECK_DEADLINE_MS, discoverRelays, publiclyDialable, RelayRecordError, signRelayRecord, verifyRelayRecord } from '../../src/net/relay-info.ts'
import type { NodeLibp2p } from '../../src/net/libp2p.ts'
import { WireError } from '../../src/wire/errors.ts'
import {
  decodeRelayRecord, MAX_RELAY_RECORD_BYTES, RELAY_RECORD_CONTEXT, RELAY_SIGNATURE_BYTES, type RelayRecordBody
} from '../../src/wire/relay-record.ts'
import { selectRelays, networkOf } from '../../src/messenger/relay-select.ts'

const v = JSON.parse(readFileSync(new URL('../vectors/relay-record.json', import.meta.url), 'utf8')) as {
  seed: string, peerId: string, bytes: string, record: Omit<RelayRecordBody, 'peerId'> & { peerId: string }
}
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))
/** Tests never ask a real resolver: the names they use and what they resolve to. */
const NAMES: Record<string, string[]> = {
  'relay.example.org': ['93.184.215.14'],
  'rebind.example.net': ['192.168.1.5'],
  'split.example.net': ['93.184.215.20', '10.0.0.8'],
  'v6.example.net': ['2606:4700::1111'],
  'mapped.example.net': ['::ffff:127.0.0.1'],
  'mixed-family.example.net': ['93.184.215.14', '::1']
}
const dns = async (name: string): Promise<string[]> => {
  const ips = NAMES[name]
  if (ips === undefined) throw new Error(`ENOTFOUND ${name}`)
  return ips
}
const NOW = 1_790_000_000_000

test('relay record vector: signing is byte-equal (Ed25519 is deterministic), decodes to its fields, verifies', async () => {
  const key = await generateKeyPairFromSeed('Ed25519', unhex(v.seed))
  const bytes = await signRelayRecord(key, { ...v.record, peerId: unhex(v.record.peerId) })
  assert.equal(Buffer.from(bytes).toString('hex'), v.bytes)
  const { record, body } = decodeRelayRecord(unhex(v.bytes))
  assert.equal(record.issuedAt, v.record.issuedAt)
  assert.deepEqual(record.addresses, v.record.addresses)
  assert.equal(record.operator, 'example.org')
  assert.equal(record.services, 7)
  // Independent check of the documented signed bytes: context string, then the body, Ed25519 by node:crypto.
  const raw = unhex(v.record.peerId).subarray(6) // identity multihash (2) + protobuf key header (4)
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw])
  const pub = createPublicKey({ key: spki, format: 'der', type: 'spki' })
  assert.ok(verify(null, Buffer.concat([Buffer.from(RELAY_RECORD_CONTEXT), body]), pub, Buffer.from(record.signature)))
  const info = await verifyRelayRecord(unhex(v.bytes), v.peerId, NOW, { allowPrivate: true })
  assert.deepEqual(info.addresses, [`/ip4/203.0.113.7/tcp/4001/p2p/${v.peerId}`, `/dns4/relay.example.org/tcp/443/wss/p2p/${v.peerId}`])
  // On the internet, the documentation range (reserved, never routed) is dropped and the DNS name kept.
  const strict = await verifyRelayRecord(unhex(v.bytes), v.peerId, NOW, { allowPrivate: false, resolve: dns })
  assert.deepEqual(strict.addresses, [`/dns4/relay.example.org/tcp/443/wss/p2p/${v.peerId}`])
})

test('relay records: every length is bounded and each refusal is typed', async () => {
  const good = unhex(v.bytes)
  assert.throws(() => decodeRelayRecord(new Uint8Array(0)), (e) => WireError.is(e, 'TRUNCATED'))
  assert.throws(() => decodeRelayRecord(Uint8Array.of(2, ...good.subarray(1))), (e) => WireError.is(e, 'VERSION'))
  assert.throws(() => decodeRelayRecord(new Uint8Array(MAX_RELAY_RECORD_BYTES + 1).fill(1)), (e) => WireError.is(e, 'TOO_LARGE'))
  for (let cut = 1; cut < good.length; cut += 7) assert.throws(() => decodeRelayRecord(good.subarray(0, cut)), (e) => WireError.is(e))
  assert.throws(() => decodeRelayRecord(Uint8Array.of(...good, 0)), (e) => WireError.is(e, 'TRAILING'))
  const key = await generateKeyPairFromSeed('Ed25519', unhex(v.seed))
  assert.equal(decodeRelayRecord(good).record.signature.length, RELAY_SIGNATURE_BYTES)
  await assert.rejects(signRelayRecord(key, { ...v.record, peerId: unhex(v.record.peerId), operator: 'x'.repeat(65) }), RangeError)
  await assert.rejects(signRelayRecord(key, { ...v.record, peerId: unhex(v.record.peerId), addresses: [] }), RangeError)
})

test('forged, altered, foreign and misattributed records are refused with the reason to count', async () => {
  const good = unhex(v.bytes)
  const rejection = async (bytes: Uint8Array, peer = v.peerId, now = NOW): Promise<string> => {
    try { await verifyRelayRecord(bytes, peer, now, { allowPrivate: true }); return 'accepted' } catch (err) { assert.ok(err instanceof RelayRecordError); return err.rejection }
  }
  assert.equal(await rejection(good), 'accepted')
  const flipped = Uint8Array.from(good)
  flipped[good.length - 70] = (flipped[good.length - 70] as number) ^ 1 // inside the operator name: signed bytes altered
  assert.equal(await rejection(flipped), 'signature')
  const other = await generateKeyPair('Ed25519')
  assert.equal(await rejection(good, peerIdFromPrivateKey(other).toString()), 'wrong-peer')
  assert.equal(await rejection(new Uint8Array(MAX_RELAY_RECORD_BYTES + 1).fill(1)), 'oversized')
  assert.equal(await rejection(good.subarray(0, 40)), 'malformed')
  const key = await generateKeyPairFromSeed('Ed25519', unhex(v.seed))
  const sign = async (patch: Partial<RelayRecordBody>): Promise<Uint8Array> => await signRelayRecord(key, { ...v.record, peerId: unhex(v.record.peerId), ...patch })
  const someoneElse = peerIdFromPrivateKey(other).toString()
  assert.equal(await rejection(await sign({ addresses: [`/ip4/198.51.100.1/tcp/4001/p2p/${someoneElse}`] })), 'foreign-address')
  assert.equal(await rejection(await sign({ addresses: [`/ip4/198.51.100.1/tcp/4001/p2p/${someoneElse}/p2p-circuit`] })), 'foreign-address')
  assert.equal(await rejection(await sign({ addresses: ['not a multiaddr'] })), 'malformed')
  assert.equal(await rejection(await sign({ issuedAt: NOW + 3600_000 })), 'future')
})

test('private, loopback and reserved addresses in a record are dropped unless the device is on a private network', async () => {
  const key = await generateKeyPairFromSeed('Ed25519', unhex(v.seed))
  const sign = async (addresses: string[]): Promise<Uint8Array> => await signRelayRecord(key, { ...v.record, peerId: unhex(v.record.peerId), addresses })
  const lanOnly = await sign(['/ip4/127.0.0.1/tcp/4001', '/ip4/10.0.0.5/tcp/4001', '/ip4/192.168.1.2/tcp/4001/ws', '/ip6/::1/tcp/4001', '/ip6/fe80::1/tcp/4001'])
  await assert.rejects(verifyRelayRecord(lanOnly, v.peerId, NOW, { allowPrivate: false, resolve: dns }), (e) => e instanceof RelayRecordError && e.rejection === 'private-only')
  assert.equal((await verifyRelayRecord(lanOnly, v.peerId, NOW, { allowPrivate: true })).addresses.length, 5)
  // The unspecified address reaches the device's own loopback on Linux; local DNS names and unix sockets stay local.
  const sneaky = await sign(['/ip4/0.0.0.0/tcp/22', '/ip6/::/tcp/22', '/dns4/localhost/tcp/22', '/dns4/router.lan/tcp/80', '/dns/printer.local/tcp/631', '/dns4/nas.home.arpa/tcp/445', '/unix/tmp%2Fx.sock'])
  await assert.rejects(verifyRelayRecord(sneaky, v.peerId, NOW, { allowPrivate: false, resolve: dns }), (e) => e instanceof RelayRecordError && e.rejection === 'private-only')
  assert.ok(publiclyDialable(multiaddr('/dns4/relay.example.org/tcp/443/wss')) && publiclyDialable(multiaddr('/ip6/2606:4700::1111/tcp/443')))
  const mixed = await sign(['/ip4/10.0.0.5/tcp/4001', '/ip4/1.2.3.4/tcp/4001', '/ip4/172.16.9.9/tcp/443/ws', '/ip4/1.2.3.4/tcp/443/ws'])
  assert.deepEqual((await verifyRelayRecord(mixed, v.peerId, NOW, { allowPrivate: false, resolve: dns })).addresses,
    [`/ip4/1.2.3.4/tcp/4001/p2p/${v.peerId}`, `/ip4/1.2.3.4/tcp/443/ws/p2p/${v.peerId}`])
})

test('host names in records are resolved and checked: any private answer of either family drops the address; the name is kept', async () => {
  const check = async (a: string): Promise<string | undefined> => (await checkedAddress(multiaddr(a), dns))?.toString()
  assert.equal(await check('/dns4/rebind.example.net/tcp/4001'), undefined, 'a public-looking name pointing at the LAN')
  assert.equal(await check('/dns/split.example.net/tcp/4001'), undefined, 'one private answer among public ones')
  assert.equal(await check('/dns/mapped.example.net/tcp/4001'), undefined, 'an IPv4-mapped loopback answer')
  assert.equal(await check('/dns4/mixed-family.example.net/tcp/443/wss'), undefined, 'a private AAAA beside a public A, even for dns4 (a wss dial takes either)')
  assert.equal(await check('/dns4/unknown.example.net/tcp/4001'), undefined, 'a name that does not resolve')
  assert.equal(await check('/dnsaddr/relay.example.org'), undefined, 'dnsaddr names further addresses, unchecked')
  assert.equal(await check('/dns4/relay.example.org/tcp/4001/ws'), '/dns4/relay.example.org/tcp/4001/ws', 'kept by name')
  assert.equal(await check('/dns6/v6.example.net/tcp/4001'), '/dns6/v6.example.net/tcp/4001')
  assert.equal(await check('/dns4/relay.example.org/tcp/443/tls/ws'), '/dns4/relay.example.org/tcp/443/tls/ws')
  assert.equal(await check('/ip4/10.0.0.1/tcp/1'), undefined)
  const key = await generateKeyPairFromSeed('Ed25519', unhex(v.seed))
  const record = await signRelayRecord(key, { ...v.record, peerId: unhex(v.record.peerId), addresses: ['/dns4/rebind.example.net/tcp/4001', '/dns4/relay.example.org/tcp/4001', '/dns4/relay.example.org/tcp/443/wss'] })
  assert.deepEqual((await verifyRelayRecord(record, v.peerId, NOW, { allowPrivate: false, resolve: dns })).addresses,
    [`/dns4/relay.example.org/tcp/4001/p2p/${v.peerId}`, `/dns4/relay.example.org/tcp/443/wss/p2p/${v.peerId}`])
  const lanName = await signRelayRecord(key, { ...v.record, peerId: unhex(v.record.peerId), addresses: ['/dns4/rebind.example.net/tcp/4001'] })
  await assert.rejects(verifyRelayRecord(lanName, v.peerId, NOW, { allowPrivate: false, resolve: dns }), (e) => e instanceof RelayRecordError && e.rejection === 'private-only')
})

test('discovery checks provider addresses after the walk and all at once: names that never resolve cost one deadline, not one each; a name with a private answer is never dialled', { timeout: 30_000 }, async (t) => {
  // AbortSignal.timeout does not keep the event loop alive; a running node would.
  const alive = setInterval(() => {}, 1_000)
  t.after(() => { clearInterval(alive) })
  const peer = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const good = await peer()
  const lan = await peer()
  const found: Array<{ id: string, addr: string }> = []
  for (let i = 0; i < 4; i++) found.push({ id: await peer(), addr: `/dns4/slow${i}.example.net/tcp/4001` })
  found.push({ id: lan, addr: '/dns4/rebind.example.net/tcp/4001' }, { id: good, addr: '/ip4/93.184.215.14/tcp/4001' })
  const dialled: string[] = []
  const node = {
    peerId: { toString: () => 'self' },
    contentRouting: {
      // As the DHT's walk: it stops when its signal aborts.
      async * findProviders (_key: unknown, o: { signal: AbortSignal }) {
        for (const f of found) { o.signal.throwIfAborted(); yield { id: { toString: () => f.id }, multiaddrs: [multiaddr(f.addr)] } }
      }
    },
    dialProtocol: async (target: unknown) => { dialled.push(String(target)); throw new Error('nothing listens in this test') }
  } as unknown as NodeLibp2p
  // The slow names' resolver answers only when given up on.
  const resolve = async (name: string, signal: AbortSignal): Promise<string[]> => {
    if (!name.startsWith('slow')) return await dns(name)
    return await new Promise((_resolve, reject) => { signal.addEventListener('abort', () => { reject(new Error('cancelled')) }, { once: true }) })
  }
  // Time for one deadline and the dials, not for four deadlines one after another: checked one by one during the
  // walk (as before), the good provider was never reached.
  const signal = AbortSignal.timeout(DNS_CHECK_DEADLINE_MS + 3_000)
  const got = await discoverRelays(node, { signal, now: Date.now, allowPrivate: false, resolve })
  assert.ok(dialled.some((d) => d.includes('93.184.215.14') && d.includes(good)), `the good provider was dialled: ${dialled.join(' | ')}`)
  assert.ok(!dialled.some((d) => d.includes(lan) || d.includes('rebind') || d.includes('slow')), dialled.join(' | '))
  assert.equal(got.unreachable, 6, 'four unchecked names, one private one, one dial that failed')
})

test('selection: a new /16 first, then a new operator, then the lowest round trip; never the same peer twice', () => {
  const c = (peerId: string, ip: string, operator: string, rttMs: number): { address: string, peerId: string, operator: string, rttMs: number } =>
    ({ address: `/ip4/${ip}/tcp/4001/p2p/${peerId}`, peerId, operator, rttMs })
  assert.equal(networkOf('/ip4/10.1.2.3/tcp/1'), 'ip4:10.1')
  const kept = [c('K', '10.1.0.1', 'op-a', 5)]
  const cands = [
    c('same-net', '10.1.9.9', 'op-z', 1),
    c('same-op', '20.2.0.1', 'op-a', 2),
    c('best', '30.3.0.1', 'op-b', 50),
    c('fast-new', '40.4.0.1', '', 9),
    c('K', '50.5.0.1', 'op-q', 0)
  ]
  assert.deepEqual(selectRelays(kept, cands, 2).map((x) => x.peerId), ['fast-new', 'best'])
  assert.deepEqual(selectRelays(kept, cands, 4).map((x) => x.peerId), ['fast-new', 'best', 'same-op', 'same-net'])
  assert.deepEqual(selectRelays([], [c('a', '1.1.0.1', 'x', 3), c('b', '1.1.0.2', 'y', 1), c('c', '2.2.0.1', 'x', 2)], 2).map((x) => x.peerId), ['b', 'c'])
})
