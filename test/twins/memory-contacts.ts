// In-memory twin of ContactRepository (src/store/contacts.ts) for unit tests; held to the same
// assertions as the SQLCipher version by test/store/contacts-contract.test.ts. Not durable.
import type { ContactRow, ContactStore, PendingInvite, TheirCard } from '../../src/store/contacts.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const copy = (b: Uint8Array): Uint8Array => new Uint8Array(b)

/** Rows are copied in and out, as a database would: a caller's later change to a buffer changes nothing here. */
function clone (c: ContactRow): ContactRow {
  return {
    ...c,
    identityKey: copy(c.identityKey),
    theirMailboxId: copy(c.theirMailboxId),
    theirMailboxKey: copy(c.theirMailboxKey),
    theirRelays: [...c.theirRelays],
    theirAddresses: [...c.theirAddresses],
    ...(c.theirPresenceSecret !== undefined ? { theirPresenceSecret: copy(c.theirPresenceSecret) } : {}),
    ...(c.theirCertificate !== undefined ? { theirCertificate: copy(c.theirCertificate) } : {}),
    myMailboxId: copy(c.myMailboxId),
    myMailboxKey: copy(c.myMailboxKey),
    myMailboxPrivateKey: copy(c.myMailboxPrivateKey),
    myMailboxPublicKey: copy(c.myMailboxPublicKey),
    myPresenceSecret: copy(c.myPresenceSecret),
    myPresenceSigningKey: copy(c.myPresenceSigningKey),
    myPresencePublicKey: copy(c.myPresencePublicKey),
    ...(c.theirPresenceKey !== undefined ? { theirPresenceKey: copy(c.theirPresenceKey) } : {}),
    ...(c.retired !== undefined
      ? { retired: { ...c.retired, mailboxId: copy(c.retired.mailboxId), mailboxKey: copy(c.retired.mailboxKey), privateKey: copy(c.retired.privateKey), publicKey: copy(c.retired.publicKey) } }
      : {})
  }
}

export class MemoryContacts implements ContactStore {
  readonly #contacts = new Map<string, ContactRow>()
  readonly #pending = new Map<string, PendingInvite>()

  insert (c: ContactRow): void {
    for (const x of this.#contacts.values()) {
      if (x.id === c.id || x.accountId === c.accountId || x.address === c.address || hex(x.myMailboxId) === hex(c.myMailboxId)) {
        throw new Error('UNIQUE constraint failed: contacts')
      }
    }
    this.#contacts.set(c.id, clone(c))
  }

  get (id: string): ContactRow | undefined {
    const c = this.#contacts.get(id)
    return c === undefined ? undefined : clone(c)
  }

  byAccountId (accountId: string): ContactRow | undefined {
    const c = [...this.#contacts.values()].find((x) => x.accountId === accountId)
    return c === undefined ? undefined : clone(c)
  }

  all (): ContactRow[] {
    return [...this.#contacts.values()].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map(clone)
  }

  updateTheirs (id: string, c: TheirCard): void {
    const x = this.#contacts.get(id)
    if (x === undefined) return
    const rest: ContactRow = { ...x }
    // A card without a peer id clears the one known (the column is set to NULL).
    delete (rest as { theirPeerId?: string }).theirPeerId
    this.#contacts.set(id, clone({
      ...rest,
      theirDisplayName: c.displayName,
      name: x.renamed ? x.name : c.displayName,
      theirMailboxId: c.mailboxId,
      theirMailboxKey: c.mailboxKey,
      theirRelays: [...c.relays],
      ...(c.peerId !== undefined ? { theirPeerId: c.peerId } : {}),
      theirAddresses: [...c.addresses],
      theirPresenceSecret: c.presenceSecret,
      theirPresenceKey: c.presenceKey,
      theirCertificate: c.certificate
    }))
  }

  setMyPresenceKeys (id: string, signingKey: Uint8Array, publicKey: Uint8Array): void {
    const x = this.#contacts.get(id)
    if (x !== undefined) this.#contacts.set(id, clone({ ...x, myPresenceSigningKey: signingKey, myPresencePublicKey: publicKey }))
  }

  setSwitched (id: string, at: number): void {
    const x = this.#contacts.get(id)
    if (x?.retired !== undefined && x.retired.switchedAt === undefined) this.#contacts.set(id, { ...x, retired: { ...x.retired, switchedAt: at } })
  }

  stopFetchingRetired (id: string): void {
    const x = this.#contacts.get(id)
    if (x?.retired !== undefined) this.#contacts.set(id, { ...x, retired: { ...x.retired, fetching: false } })
  }

  dropRetired (id: string): void {
    const x = this.#contacts.get(id)
    if (x === undefined) return
    const { retired: _dropped, ...rest } = x
    this.#contacts.set(id, rest)
  }

  rename (id: string, name: string): boolean {
    const x = this.#contacts.get(id)
    if (x === undefined) return false
    this.#contacts.set(id, { ...x, name, renamed: true })
    return true
  }

  setVerified (id: string, verified: boolean): boolean {
    const x = this.#contacts.get(id)
    if (x === undefined) return false
    this.#contacts.set(id, { ...x, verified })
    return true
  }

  insertPending (p: PendingInvite): void {
    const key = hex(p.mailboxId)
    if (this.#pending.has(key)) throw new Error('UNIQUE constraint failed: pending_invites.mailbox_id')
    this.#pending.set(key, { ...p })
  }

  pending (): PendingInvite[] {
    return [...this.#pending.values()].sort((a, b) => a.createdAt - b.createdAt).map((p) => ({ ...p }))
  }

  deletePending (mailboxId: Uint8Array): void {
    this.#pending.delete(hex(mailboxId))
  }

  pendingPreKeyIds (): Set<number> {
    return new Set([...this.#pending.values()].map((p) => p.preKeyId))
  }
}
