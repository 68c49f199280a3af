// The schema of a device's store, as numbered migrations (applied by openDatabase in db.ts).
// Never edit a shipped migration: add the next number. test/store/schema.test.ts checks the chain.
import type { Migration } from './db.ts'

/**
 * The device store's SQLCipher page size (issue 10). SQLCipher encrypts (AES-256-CBC) and HMACs (SHA-512, in
 * software in @signalapp/sqlcipher: most of a commit's CPU) every page a commit writes, whole, and a message's commit
 * writes one page per table and index it touches (11 to 13 at 4096 bytes, most of them for one new row of under 300
 * bytes). At 2048 bytes it writes a third more pages but a third fewer bytes: the COMMIT's CPU is 25-30% lower, in
 * bench/standalone/store-work.ts and in the device processes of bench/standalone/latency-probe.ts. A row of a WITHOUT
 * ROWID table (messages, outbox: index b-trees) keeps at most ((U - 12) * 64 / 255) - 23 bytes on its page, U being the
 * page less SQLCipher's 80 reserved bytes (IV and HMAC): about 467 bytes at 2048 (1,000 at 4096), the rest in overflow
 * pages. So at 2048 outbox rows, which hold whole envelopes, overflow too, as most did at 4096; message rows (under
 * 300 bytes) fit. 1024 bytes cost less still there, but then rows over about 200 bytes overflow (messages too) and the
 * IV and HMAC take 8% of each page. Stores made at SQLCipher's default (4096) are rewritten once at open (src/store/db.ts
 * convertPageSize).
 */
export const DEVICE_PAGE_SIZE = 2048

const v1Core = `
-- The one account of this data directory (id = 1 enforces "one account per device").
CREATE TABLE account (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  identity_key_pair BLOB NOT NULL,
  registration_id INTEGER NOT NULL,
  display_name TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  signed_prekey_id INTEGER NOT NULL,
  kyber_last_resort_id INTEGER NOT NULL,
  next_prekey_id INTEGER NOT NULL,
  next_kyber_prekey_id INTEGER NOT NULL,
  sender_certificate BLOB NOT NULL
);
-- libsignal stores, keyed by libsignal address name (a UUID derived from the identity key).
CREATE TABLE signal_sessions (address TEXT PRIMARY KEY, record BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE signal_identities (address TEXT PRIMARY KEY, identity_key BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE signal_prekeys (id INTEGER PRIMARY KEY, record BLOB NOT NULL);
CREATE TABLE signal_signed_prekeys (id INTEGER PRIMARY KEY, record BLOB NOT NULL);
CREATE TABLE signal_kyber_prekeys (id INTEGER PRIMARY KEY, record BLOB NOT NULL, last_resort INTEGER NOT NULL);
-- Uses of the last-resort Kyber prekey, so a replayed PreKey message cannot reuse one.
CREATE TABLE signal_kyber_used (
  kyber_id INTEGER NOT NULL, signed_prekey_id INTEGER NOT NULL, base_key BLOB NOT NULL,
  PRIMARY KEY (kyber_id, signed_prekey_id, base_key)
) WITHOUT ROWID;
-- Invites made and not yet answered: the mailbox the invite created and the prekeys it spent.
CREATE TABLE pending_invites (
  mailbox_id BLOB PRIMARY KEY,
  mailbox_key BLOB NOT NULL,
  mailbox_private_key BLOB NOT NULL,
  mailbox_public_key BLOB NOT NULL,
  presence_secret BLOB NOT NULL,
  prekey_id INTEGER NOT NULL,
  kyber_prekey_id INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE contacts (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  renamed INTEGER NOT NULL DEFAULT 0,
  their_display_name TEXT NOT NULL,
  account_id TEXT NOT NULL UNIQUE,
  identity_key BLOB NOT NULL,
  address TEXT NOT NULL UNIQUE,
  verified INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  their_mailbox_id BLOB NOT NULL,
  their_mailbox_key BLOB NOT NULL,
  their_relays TEXT NOT NULL,
  their_peer_id TEXT,
  their_addresses TEXT NOT NULL,
  their_presence_secret BLOB,
  their_certificate BLOB,
  my_mailbox_id BLOB NOT NULL UNIQUE,
  my_mailbox_key BLOB NOT NULL,
  my_mailbox_private_key BLOB NOT NULL,
  my_mailbox_public_key BLOB NOT NULL,
  my_presence_secret BLOB NOT NULL
);
`

const v2Messaging = `
CREATE TABLE conversations (
  contact_id TEXT PRIMARY KEY REFERENCES contacts(id) ON DELETE CASCADE,
  next_out_seq INTEGER NOT NULL DEFAULT 1,
  highest_in_seq INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE messages (
  contact_id TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
  id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  text TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'stored', 'delivered', 'read', 'failed')),
  path TEXT CHECK (path IS NULL OR path IN ('direct', 'relayed', 'mailbox')),
  failure TEXT,
  at INTEGER NOT NULL,
  sent_at INTEGER,
  read_at INTEGER,
  gap_before INTEGER,
  PRIMARY KEY (contact_id, direction, id)
) WITHOUT ROWID;
CREATE INDEX messages_by_time ON messages (contact_id, at);
CREATE TABLE outbox (
  contact_id TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  message_id TEXT NOT NULL,
  kind TEXT NOT NULL DEFAULT 'text',
  envelope BLOB NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'stored', 'done', 'failed')),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (contact_id, message_id)
) WITHOUT ROWID;
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
`

// The messenger's duplicate filter: SHA-256 of each processed envelope (the whole envelope is under
// the mailbox AEAD, so equal hashes mean the same sealed message), and the message it carried, so a
// re-sent message gets its lost receipt again without touching the libsignal session.
const v3ReceivedEnvelopes = `
CREATE TABLE received_envelopes (
  hash BLOB PRIMARY KEY,
  contact_id TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  message_id TEXT,
  at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX received_envelopes_by_time ON received_envelopes (at);
`

// The messenger finds a message's neighbours by sequence number (gaps) without scanning the history,
// and the next outbox rows due without sorting (rows leave the outbox when done or failed).
const v4MessagesBySeq = `
CREATE INDEX messages_by_seq ON messages (contact_id, direction, seq);
CREATE INDEX outbox_by_due_time ON outbox (next_attempt_at);
`

// Issue 9: per-contact presence signing keys (mine: private PKCS#8 + raw public; theirs: raw public, from
// their card), and the invite's mailbox kept after the handshake while it is drained (retired_*): the
// inviter moves the contact to a fresh mailbox and stops fetching the invite's one once it is empty.
// retired_at: when the contact was first seen on the fresh mailbox (NULL until then).
const v5PresenceKeysRetiredMailbox = `
ALTER TABLE contacts ADD COLUMN my_presence_signing_key BLOB;
ALTER TABLE contacts ADD COLUMN my_presence_public_key BLOB;
ALTER TABLE contacts ADD COLUMN their_presence_key BLOB;
ALTER TABLE contacts ADD COLUMN retired_mailbox_id BLOB;
ALTER TABLE contacts ADD COLUMN retired_mailbox_key BLOB;
ALTER TABLE contacts ADD COLUMN retired_mailbox_private_key BLOB;
ALTER TABLE contacts ADD COLUMN retired_mailbox_public_key BLOB;
ALTER TABLE contacts ADD COLUMN retired_at INTEGER;
ALTER TABLE contacts ADD COLUMN retired_fetch INTEGER NOT NULL DEFAULT 0;
`

// Issue 10: the unread count of a conversation is a counter kept with each message received and each
// markRead (counting rows cost 2 ms per call at 10k messages, once per message received); the unread
// messages themselves are found through a partial index (markRead), not a walk of the conversation.
const v6UnreadCounter = `
ALTER TABLE conversations ADD COLUMN unread INTEGER NOT NULL DEFAULT 0;
INSERT OR IGNORE INTO conversations (contact_id, updated_at)
  SELECT DISTINCT contact_id, 0 FROM messages WHERE direction = 'in' AND read_at IS NULL;
UPDATE conversations SET unread = (SELECT count(*) FROM messages m
  WHERE m.contact_id = conversations.contact_id AND m.direction = 'in' AND m.read_at IS NULL);
CREATE INDEX messages_unread ON messages (contact_id) WHERE direction = 'in' AND read_at IS NULL;
`

// Issue 14 item 8: a contact's identity key that changed. Each new key seen for a contact is one row
// (pending until the user accepts or blocks it; a blocked key's later envelopes are dropped silently),
// and the envelopes that arrived under a pending key are held here so they open if the user accepts.
const v7KeyChanges = `
CREATE TABLE key_changes (
  contact_id TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  identity_key BLOB NOT NULL,
  at INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'blocked')),
  decided_at INTEGER,
  PRIMARY KEY (contact_id, identity_key)
) WITHOUT ROWID;
CREATE TABLE held_envelopes (
  seq INTEGER PRIMARY KEY,
  contact_id TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  identity_key BLOB NOT NULL,
  hash BLOB NOT NULL UNIQUE,
  envelope BLOB NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX held_envelopes_by_contact ON held_envelopes (contact_id, seq);
`

// Issue 13 chat features. Messages: the quoted message of a reply (id + excerpt, as the sender sealed them),
// when an edit replaced the text, when the sender deleted it for everyone (its text is then emptied).
// Blocked contacts: nothing from them is stored, shown or receipted. Pending invites keep their link, so one
// unanswered invite is handed out again instead of a new one each time.
// Search: an FTS5 index inside SQLCipher (so the index is encrypted with the rest). messages is WITHOUT ROWID,
// so message_search gives each message the integer rowid FTS5 needs; triggers keep both in step with messages.
const v8ChatFeatures = `
ALTER TABLE messages ADD COLUMN reply_to TEXT;
ALTER TABLE messages ADD COLUMN quote TEXT;
ALTER TABLE messages ADD COLUMN edited_at INTEGER;
ALTER TABLE messages ADD COLUMN deleted_at INTEGER;
ALTER TABLE pending_invites ADD COLUMN link TEXT;
CREATE TABLE blocked_contacts (
  contact_id TEXT PRIMARY KEY REFERENCES contacts(id) ON DELETE CASCADE,
  at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE message_search (
  rowid INTEGER PRIMARY KEY,
  contact_id TEXT NOT NULL,
  direction TEXT NOT NULL,
  id TEXT NOT NULL,
  UNIQUE (contact_id, direction, id)
);
CREATE VIRTUAL TABLE messages_fts USING fts5(text, tokenize = 'unicode61 remove_diacritics 2');
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
  INSERT INTO message_search (contact_id, direction, id) VALUES (new.contact_id, new.direction, new.id);
  INSERT INTO messages_fts (rowid, text) VALUES (last_insert_rowid(), new.text);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
  DELETE FROM messages_fts WHERE rowid = (SELECT rowid FROM message_search WHERE contact_id = old.contact_id AND direction = old.direction AND id = old.id);
  INSERT INTO messages_fts (rowid, text) SELECT rowid, new.text FROM message_search
    WHERE contact_id = new.contact_id AND direction = new.direction AND id = new.id;
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
  DELETE FROM messages_fts WHERE rowid = (SELECT rowid FROM message_search WHERE contact_id = old.contact_id AND direction = old.direction AND id = old.id);
  DELETE FROM message_search WHERE contact_id = old.contact_id AND direction = old.direction AND id = old.id;
END;
INSERT INTO message_search (contact_id, direction, id) SELECT contact_id, direction, id FROM messages;
INSERT INTO messages_fts (rowid, text) SELECT s.rowid, m.text FROM message_search s
  JOIN messages m ON m.contact_id = s.contact_id AND m.direction = s.direction AND m.id = s.id;
`

// Issue 12: file transfers, both directions, with chunk-level progress (`done`: chunks confirmed durable by the other
// end or written here). The file key and capability live only in this encrypted store; the chunks stay encrypted in
// the data directory (files/).
const v9FileTransfers = `
CREATE TABLE file_transfers (
  contact_id TEXT NOT NULL,
  message_id TEXT NOT NULL,
  direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  size INTEGER NOT NULL,
  sha256 BLOB NOT NULL,
  file_key BLOB NOT NULL,
  header BLOB NOT NULL,
  chunks INTEGER NOT NULL,
  blob_id BLOB NOT NULL,
  capability BLOB NOT NULL,
  relays TEXT NOT NULL,
  state TEXT NOT NULL,
  path TEXT,
  done INTEGER NOT NULL DEFAULT 0,
  failure TEXT,
  relay_counts TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (contact_id, message_id, direction)
);
CREATE INDEX file_transfers_by_blob ON file_transfers (blob_id);
CREATE INDEX file_transfers_by_message ON file_transfers (message_id);
`

// Issue 11: groups. libsignal sender keys (SenderKeyStore), each group with my mailbox for it and my current
// sender-key distribution id, the signed membership changes held (the state is folded from them), which
// members already have my current sender key, which contacts were met through a group (not introduced by an
// invite), and the group conversation: messages, my per-group sequence numbers, per-member delivery states.
const v10Groups = `
CREATE TABLE signal_sender_keys (
  address TEXT NOT NULL,
  distribution_id TEXT NOT NULL,
  record BLOB NOT NULL,
  PRIMARY KEY (address, distribution_id)
) WITHOUT ROWID;
CREATE TABLE groups (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  joined INTEGER NOT NULL DEFAULT 0,
  my_mailbox_id BLOB NOT NULL UNIQUE,
  my_mailbox_key BLOB NOT NULL,
  my_mailbox_private_key BLOB NOT NULL,
  my_mailbox_public_key BLOB NOT NULL,
  distribution_id TEXT NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE group_changes (
  group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
  hash TEXT NOT NULL,
  bytes BLOB NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (group_id, hash)
) WITHOUT ROWID;
CREATE TABLE group_key_sent (
  group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
  distribution_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  PRIMARY KEY (group_id, distribution_id, account_id)
) WITHOUT ROWID;
CREATE TABLE group_met (
  contact_id TEXT PRIMARY KEY REFERENCES contacts(id) ON DELETE CASCADE,
  group_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE group_messages (
  group_id TEXT NOT NULL,
  id TEXT NOT NULL,
  sender TEXT NOT NULL,
  direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
  seq INTEGER NOT NULL,
  text TEXT NOT NULL,
  sent_at INTEGER NOT NULL,
  at INTEGER NOT NULL,
  read_at INTEGER,
  PRIMARY KEY (group_id, sender, id)
) WITHOUT ROWID;
CREATE INDEX group_messages_by_time ON group_messages (group_id, sent_at);
CREATE TABLE group_seq (group_id TEXT PRIMARY KEY, next_seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE group_deliveries (
  message_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  group_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  state TEXT NOT NULL,
  path TEXT,
  PRIMARY KEY (message_id, contact_id)
) WITHOUT ROWID;
`

/** Issue 11: a change that arrived before its parents waits here (src/e2ee/groups/groups.ts, held changes). */
const v11HeldGroupChanges = `
CREATE TABLE group_held (
  group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
  hash TEXT NOT NULL,
  bytes BLOB NOT NULL,
  held_at INTEGER NOT NULL,
  from_contact TEXT,
  PRIMARY KEY (group_id, hash)
) WITHOUT ROWID;
`

// Issue 10: outbox_due (state, next_attempt_at) serves no query (the outbox is read by key, by due time through
// outbox_by_due_time, or counted), yet every row put in, rescheduled or taken out of the outbox wrote its pages too:
// two page writes more per message sent. test/store/query-plans.test.ts shows no statement used it.
const v12DropOutboxDue = `
DROP INDEX outbox_due;
`

// Issue 10: the search index is written in batches (src/store/search-index.ts). A stored message leaves its key
// in search_pending (in the commit that stores it) instead of writing message_search, its unique index and FTS5
// there and then; the indexer moves pending messages into the index before each search, once a batch waits and
// when the store is idle. search_pending is appended to in rowid order, so a batch of messages dirties the one
// last page of it (a table keyed by message id took a page per message). Nothing removes a pending key when its
// message goes (the indexer joins the pending keys with messages, so it skips them); the update trigger of
// migration 8 stays: for a pending message it finds no message_search row and does nothing, and the indexer
// later reads the edited text.
// Also: messages_unread (migration 6) indexed (contact_id) and so, in a table without rowid, (contact_id, direction,
// id): a random message id put every message received on a page of its own. By (contact_id, seq) it is appended to
// in arrival order; markRead reads it by its contact_id prefix as before.
const v13SearchPending = `
DROP INDEX messages_unread;
CREATE INDEX messages_unread ON messages (contact_id, seq) WHERE direction = 'in' AND read_at IS NULL;
CREATE TABLE search_pending (
  rowid INTEGER PRIMARY KEY,
  contact_id TEXT NOT NULL,
  direction TEXT NOT NULL,
  id TEXT NOT NULL
);
DROP TRIGGER messages_fts_insert;
CREATE TRIGGER messages_search_pending AFTER INSERT ON messages BEGIN
  INSERT INTO search_pending (contact_id, direction, id) VALUES (new.contact_id, new.direction, new.id);
END;
`

/** Issue 13 review: an edit or deletion for everyone that arrived before the message it names waits here
 * (src/messenger/chat/held-controls.ts) and is applied when the message arrives. */
const v14HeldChatControls = `
CREATE TABLE chat_held_controls (
  contact_id TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  target TEXT NOT NULL,
  kind TEXT NOT NULL,
  text TEXT,
  at INTEGER NOT NULL,
  held_at INTEGER NOT NULL,
  PRIMARY KEY (contact_id, target, kind)
) WITHOUT ROWID;
`

/** Issue 12 throughput: a file is announced once hashed and sealed while it is sent
 * (src/messenger/files/sealing.ts). Until its chunk file is whole, an outgoing row keeps the path it is read from, so
 * a sender restarted mid-seal seals it again (NULL once sealed). */
const v15FileSource = `
ALTER TABLE file_transfers ADD COLUMN source_path TEXT;
`

/** Migration 16's binding of one row, by the group id (the owner after 'group:'), the message id and direction, so the
 * look-up searches V16_BIND_INDEX (test/store/query-plans.test.ts): compared as `'group:' || g.group_id` it walked
 * every group message per file row (100 rows against 200k messages took 40 s, inside the unlock). */
const V16_MATCH = `g.group_id = substr(file_transfers.contact_id, 7) AND g.id = file_transfers.message_id
    AND g.direction = file_transfers.direction AND (g.direction = 'out' OR g.at = file_transfers.created_at)`

/** Exported for the query-plan test. The index exists only during the migration: no other query looks a group
 * message up by id without its sender. It covers the look-up (the sender is in every index of this table), and the
 * look-ups name it (INDEXED BY): without statistics the planner prefers the primary key's group_id prefix, a walk of
 * the group. */
export const V16_BIND_INDEX = 'CREATE INDEX group_messages_v16_bind ON group_messages (group_id, id, direction, at)'
export const V16_BIND = `UPDATE file_transfers SET contact_id = contact_id || '/' || (SELECT g.sender FROM group_messages g INDEXED BY group_messages_v16_bind WHERE ${V16_MATCH})
WHERE substr(contact_id, 1, 6) = 'group:' AND instr(contact_id, '/') = 0 AND (SELECT count(*) FROM group_messages g INDEXED BY group_messages_v16_bind WHERE ${V16_MATCH}) = 1`

/** Issue 12 review: a group's transfer rows were owned by `group:<group id>` and keyed by message id, which each
 * sender chooses: a member announcing a file under another member's id hid or replaced the other's file. A row is now
 * owned by `group:<group id>/<sender account id>` ('' for mine, as group_messages names me), like the message itself
 * (src/messenger/files/group-files.ts). Each older row is bound to the sender of the message that announced it: for
 * mine the one outgoing message of that id; for a member's, the one incoming message of that id stored in the row's
 * commit (same time). A row that names no such single message (its message gone, or two senders' messages stored
 * at once under the id) keeps its old owner, sender unknown; FileStore.orphans never sweeps it (it may be an honest
 * delivered file). */
const v16GroupFileSender = `
${V16_BIND_INDEX};
${V16_BIND};
DROP INDEX group_messages_v16_bind;
`

/**
 * Issue 10: fewer pages written by each commit of the per-message path (each is encrypted, HMACed and written to the
 * WAL whole). Measured with the WAL's page numbers per commit (the sender's commit of a message, its commit of the
 * receipt, the receiver's commit: 18.4, 15.1 and 20.1 pages at migration 16):
 * - signal_sessions and outbox become rowid tables. A session record (1 to 6 KB) and an outbox row (a whole envelope,
 *   1 KB for a short text) were rows of tables without rowid, which keep at most about 467 bytes on their page at
 *   DEVICE_PAGE_SIZE: the rest went to overflow pages, taken from the free list and freed again by every ratchet step
 *   and every outbox row put in or taken out; with secure_delete (on in this SQLCipher) a freed page is zeroed and
 *   written, and the free list's trunk and the header page were written with it. A rowid table keeps up to about
 *   1,930 bytes of a row on its page, and a session row of unchanged length (signal_sessions.pad: SESSION_ROW_QUANTUM
 *   in src/store/signal-stores.ts) is overwritten in place. The primary key becomes an index of its own, which only
 *   a new session or a new outbox row writes. Rows keep their columns, constraints and indexes.
 * - messages_by_seq serves the gap look-ups of incoming messages only: indexed for them alone, a message sent no
 *   longer writes it.
 * - received_envelopes: the duplicate filter was two random-order B-trees and a time index; as a rowid table its rows
 *   are appended in arrival order, which is the pruning order (History.pruneEnvelopes), and only the hash index is
 *   written in random order.
 */
const v17FewerPagesPerCommit = `
CREATE TABLE signal_sessions_v17 (address TEXT NOT NULL PRIMARY KEY, record BLOB NOT NULL, pad BLOB NOT NULL DEFAULT x'');
INSERT INTO signal_sessions_v17 (address, record) SELECT address, record FROM signal_sessions;
DROP TABLE signal_sessions;
ALTER TABLE signal_sessions_v17 RENAME TO signal_sessions;
CREATE TABLE outbox_v17 (
  contact_id TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  message_id TEXT NOT NULL,
  kind TEXT NOT NULL DEFAULT 'text',
  envelope BLOB NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'stored', 'done', 'failed')),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (contact_id, message_id)
);
INSERT INTO outbox_v17 (contact_id, message_id, kind, envelope, attempts, next_attempt_at, expires_at, state, created_at)
  SELECT contact_id, message_id, kind, envelope, attempts, next_attempt_at, expires_at, state, created_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v17 RENAME TO outbox;
CREATE INDEX outbox_by_due_time ON outbox (next_attempt_at);
CREATE TABLE received_envelopes_v17 (
  hash BLOB NOT NULL PRIMARY KEY,
  contact_id TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  message_id TEXT,
  at INTEGER NOT NULL
);
INSERT INTO received_envelopes_v17 (hash, contact_id, message_id, at)
  SELECT hash, contact_id, message_id, at FROM received_envelopes ORDER BY at;
DROP TABLE received_envelopes;
ALTER TABLE received_envelopes_v17 RENAME TO received_envelopes;
DROP INDEX messages_by_seq;
CREATE INDEX messages_by_seq ON messages (contact_id, seq) WHERE direction = 'in';
`

/**
 * Issue 10: the contact list's last message is named by its conversation row (last_direction, last_id, and its
 * last_at), which the commit of every message sent or received writes anyway, instead of found through
 * messages_by_time (contact_id, at): that index served this one look-up, and every message stored on either side
 * wrote its pages too (1.5 more per commit, bench/standalone/store-work.ts). A message stored takes the place unless
 * it is older than the one named (src/messenger/history.ts); a message deleted for me hands it to the newest one left
 * (src/messenger/chat/chat-store.ts). Copied here from the index before it goes, with the index's order on a tie, for
 * every contact with messages (a store may have none of its conversation rows: older versions made one on receive).
 */
const v18LastMessagePointer = `
ALTER TABLE conversations ADD COLUMN last_direction TEXT;
ALTER TABLE conversations ADD COLUMN last_id TEXT;
ALTER TABLE conversations ADD COLUMN last_at INTEGER;
INSERT OR IGNORE INTO conversations (contact_id, updated_at) SELECT contact_id, max(at) FROM messages GROUP BY contact_id;
UPDATE conversations SET (last_direction, last_id, last_at) = (SELECT m.direction, m.id, m.at FROM messages m INDEXED BY messages_by_time
  WHERE m.contact_id = conversations.contact_id ORDER BY m.at DESC, m.direction DESC, m.id DESC LIMIT 1);
DROP INDEX messages_by_time;
`

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'account, libsignal stores, invites, contacts', up: v1Core },
  { version: 2, name: 'conversations, messages, outbox, settings', up: v2Messaging },
  { version: 3, name: 'received envelopes (duplicate filter)', up: v3ReceivedEnvelopes },
  { version: 4, name: 'messages by sequence number, outbox by due time', up: v4MessagesBySeq },
  { version: 5, name: 'presence signing keys, retired invite mailboxes', up: v5PresenceKeysRetiredMailbox },
  { version: 6, name: 'unread counters, unread messages by partial index', up: v6UnreadCounter },
  { version: 7, name: 'identity key changes and the envelopes held under them', up: v7KeyChanges },
  { version: 8, name: 'replies, edits, deletions, blocked contacts, invite links, full-text search', up: v8ChatFeatures },
  { version: 9, name: 'file transfers (issue 12)', up: v9FileTransfers },
  { version: 10, name: 'groups: sender keys, membership changes, group conversations', up: v10Groups },
  { version: 11, name: 'groups: membership changes held until their parents arrive', up: v11HeldGroupChanges },
  { version: 12, name: 'no outbox index by state (issue 10)', up: v12DropOutboxDue },
  { version: 13, name: 'search index written in batches, unread messages indexed in arrival order (issue 10)', up: v13SearchPending },
  { version: 14, name: 'edits and deletions held until their message arrives', up: v14HeldChatControls },
  { version: 15, name: 'file transfers: the source of a file still being sealed (issue 12)', up: v15FileSource },
  { version: 16, name: 'group file transfers owned by their sender (issue 12 review)', up: v16GroupFileSender },
  { version: 17, name: 'fewer pages per commit: sessions, outbox and received envelopes as rowid tables, incoming-only sequence index (issue 10)', up: v17FewerPagesPerCommit },
  { version: 18, name: 'the last message named by its conversation, no messages_by_time index (issue 10)', up: v18LastMessagePointer }
]
