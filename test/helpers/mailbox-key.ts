// A mailbox key pair as the contract defines it (Ed25519 via node:crypto; mailboxId = SHA-256(raw public key)).
import { createHash, generateKeyPairSync, sign } from 'node:crypto'

export interface TestBox { mailboxId: Uint8Array, publicKey: Uint8Array, sign: (c: Uint8Array) => Uint8Array }

export function makeMailboxKey (): TestBox {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const raw = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(12))
  return {
    mailboxId: new Uint8Array(createHash('sha256').update(raw).digest()),
    publicKey: raw,
    sign: (c) => new Uint8Array(sign(null, c, privateKey))
  }
}
