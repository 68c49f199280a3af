// Rows the store tests put straight into a device database, without an account or libsignal behind them.
import type { Database } from '../../src/store/db.ts'

/** A contact row with placeholder keys and cards: enough for messages, outbox and search rows to reference it. */
export function addContact (db: Database, id: string): void {
  const blob = Buffer.alloc(32, 1)
  db.prepare(`INSERT INTO contacts (id, name, their_display_name, account_id, identity_key, address, created_at,
    their_mailbox_id, their_mailbox_key, their_relays, their_addresses, my_mailbox_id, my_mailbox_key,
    my_mailbox_private_key, my_mailbox_public_key, my_presence_secret)
    VALUES (?, 'c', 'c', ?, ?, ?, 0, ?, ?, '[]', '[]', ?, ?, ?, ?, ?)`).run([id, `acct-${id}`, blob, `addr-${id}`, blob, blob, Buffer.alloc(32, id.length), blob, blob, blob, blob])
}
