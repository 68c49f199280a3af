// Endpoints on raw libsignal + a SQLCipher messages table, for the centralized baseline while (or where)
// the product's Device is not used: encrypt, one durable insert per message, decrypt, insert, receipt.
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { openDatabase, resolveDatabaseKey, type Database } from '../../src/store/db.ts'
import type { Endpoint } from './central.ts'
import { decrypt, encrypt, sessionPair, type Party } from './signal.ts'

const MIGRATIONS = [{
  version: 1,
  name: 'bench messages',
  up: `CREATE TABLE messages (
    seq INTEGER PRIMARY KEY, id BLOB NOT NULL, contact TEXT NOT NULL, direction TEXT NOT NULL, n INTEGER NOT NULL,
    text TEXT NOT NULL, state TEXT NOT NULL, at INTEGER NOT NULL, UNIQUE (contact, direction, id))`
}]

const TEXT = 1
const RECEIPT = 2

function endpoint (me: Party, them: Party, db: Database): Endpoint {
  const insert = db.prepare('INSERT INTO messages (id, contact, direction, n, text, state, at) VALUES (?, ?, ?, ?, ?, ?, ?)')
  const delivered = db.prepare("UPDATE messages SET state = 'delivered' WHERE contact = ? AND direction = 'out' AND id = ?")
  let n = 0
  return {
    sendText: async (text) => {
      const id = randomBytes(16)
      insert.run([id, 'peer', 'out', ++n, text, 'queued', Date.now()])
      const body = Buffer.from(text, 'utf8')
      const plain = new Uint8Array(1 + 16 + 4 + body.length)
      plain[0] = TEXT
      plain.set(id, 1)
      new DataView(plain.buffer).setUint32(17, n)
      plain.set(body, 21)
      return { id: id.toString('hex'), envelope: await encrypt(me, them, plain) }
    },
    receive: async (envelope) => {
      const plain = await decrypt(me, them, new Uint8Array(envelope))
      const id = Buffer.from(plain.subarray(1, 17))
      if (plain[0] === TEXT) {
        const seq = new DataView(plain.buffer, plain.byteOffset).getUint32(17)
        insert.run([id, 'peer', 'in', seq, Buffer.from(plain.subarray(21)).toString('utf8'), 'delivered', Date.now()])
        const receipt = new Uint8Array(17)
        receipt[0] = RECEIPT
        receipt.set(id, 1)
        return { kind: 'text', receipt: await encrypt(me, them, receipt) }
      }
      delivered.run(['peer', id])
      return { kind: 'receipt', ids: [id.toString('hex')] }
    },
    close: async () => { db.close() }
  }
}

/** Two endpoints with a confirmed session between them, each with its own database under `dir`. */
export async function rawEndpointPair (dir: string): Promise<[Endpoint, Endpoint]> {
  const { alice, bob } = await sessionPair()
  const open = (name: string): Database => {
    const d = join(dir, name)
    return openDatabase({ path: join(d, 'store.db'), key: resolveDatabaseKey(d, { create: true }), migrations: MIGRATIONS, synchronous: 'FULL' })
  }
  return [endpoint(alice, bob, open('alice')), endpoint(bob, alice, open('bob'))]
}
