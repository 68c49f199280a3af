// The account's lifecycle: making the one account of a data directory (identity, prekeys, store) and
// opening it again. Both hand back the shared DeviceContext the other parts work on.
import { randomInt } from 'node:crypto'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { IdentityKeyPair, KEMKeyPair, KyberPreKeyRecord, PreKeyRecord, PrivateKey, SignedPreKeyRecord } from '@signalapp/libsignal-client'
import type { Logger } from '../platform/logger.ts'
import { signalUuidFromIdentityKey } from '../identity/account-id.ts'
import { AccountRepository, type AccountRow } from '../store/account.ts'
import { DATABASE_FILE, KEY_FILE, SALT_FILE, openDatabase, resolveDatabaseKey, type Database } from '../store/db.ts'
import { DEVICE_PAGE_SIZE, MIGRATIONS } from '../store/schema.ts'
import { SignalStores } from '../store/signal-stores.ts'
import { DeviceContext, checkName, issueSenderCertificate } from './context.ts'
import { E2eeError } from './errors.ts'

/** One-time prekeys made at init; each invite takes one, and a new batch is made when they run out. */
export const PREKEY_BATCH = 10
/** WAL + NORMAL: atomic and crash-safe for the process, a power cut may drop the last commits;
 * FULL costs an fsync (~10 ms here) per message. See docs/threat-model.md "Device compromise and storage". */
export const DEFAULT_SYNCHRONOUS = 'NORMAL'
/** libsignal registration ids are 14-bit, 1..16380. */
const MAX_REGISTRATION_ID = 16380

export interface OpenOptions {
  passphrase?: string
  logger?: Logger
  now?: () => number
  synchronous?: 'FULL' | 'NORMAL'
}

/** True when the data directory holds a store (and so an account, or a damaged attempt at one). */
export function accountExists (dataDir: string): boolean {
  return existsSync(join(dataDir, DATABASE_FILE))
}

/** Saves PREKEY_BATCH new one-time prekeys with ids first.. and returns the first. */
export function savePreKeyBatch (stores: SignalStores, first: number): PreKeyRecord {
  let record: PreKeyRecord | undefined
  for (let id = first; id < first + PREKEY_BATCH; id++) {
    const k = PrivateKey.generate()
    const r = PreKeyRecord.new(id, k.getPublicKey(), k)
    // The store writes synchronously inside the caller's transaction; the promise is libsignal's interface.
    void stores.savePreKey(id, r)
    record ??= r
  }
  return record as PreKeyRecord
}

/** Makes the one account of a data directory. A second create refuses (ACCOUNT_EXISTS) and touches nothing. */
export function createAccount (dataDir: string, o: OpenOptions & { name: string }): DeviceContext {
  if (accountExists(dataDir)) {
    throw new E2eeError('ACCOUNT_EXISTS', 'This data directory already holds an account; a device has exactly one. Use another directory to make a new account.')
  }
  const name = checkName(o.name, 'name')
  const now = (o.now ?? Date.now)()
  const hadKey = existsSync(join(dataDir, KEY_FILE)) || existsSync(join(dataDir, SALT_FILE))
  const key = resolveDatabaseKey(dataDir, { passphrase: o.passphrase, create: true })
  let db: Database | undefined
  try {
    db = openDatabase({ path: join(dataDir, DATABASE_FILE), key, migrations: MIGRATIONS, synchronous: o.synchronous ?? DEFAULT_SYNCHRONOUS, pageSize: DEVICE_PAGE_SIZE, checkpoint: 'idle', logger: o.logger })
    const identity = IdentityKeyPair.generate()
    const uuid = signalUuidFromIdentityKey(identity.publicKey.serialize())
    const registrationId = randomInt(1, MAX_REGISTRATION_ID + 1)
    const signedPreKey = PrivateKey.generate()
    const signedRecord = SignedPreKeyRecord.new(1, now, signedPreKey.getPublicKey(), signedPreKey,
      identity.privateKey.sign(signedPreKey.getPublicKey().serialize()))
    const kyber = KEMKeyPair.generate()
    const kyberRecord = KyberPreKeyRecord.new(1, now, kyber, identity.privateKey.sign(kyber.getPublicKey().serialize()))
    const account: AccountRow = {
      identityKeyPair: identity.serialize(),
      registrationId,
      displayName: name,
      createdAt: now,
      signedPreKeyId: 1,
      kyberLastResortId: 1,
      nextPreKeyId: 1 + PREKEY_BATCH,
      nextKyberPreKeyId: 2,
      senderCertificate: issueSenderCertificate(identity, uuid, now).serialize()
    }
    const d = db
    d.transaction(() => {
      new AccountRepository(d).insert(account)
      const stores = new SignalStores(d, account.identityKeyPair, registrationId)
      stores.begin()
      // Synchronous writes behind libsignal's promise interface (see savePreKeyBatch).
      void stores.saveSignedPreKey(1, signedRecord)
      stores.saveKyber(1, kyberRecord, true)
      savePreKeyBatch(stores, 1)
      stores.commit()
    })()
    const ctx = new DeviceContext(db, account, o)
    ctx.logger.info('account.created')
    return ctx
  } catch (err) {
    db?.close()
    // Undo a half-made first account so that a retry starts clean (never reached for an existing one).
    for (const f of [DATABASE_FILE, `${DATABASE_FILE}-wal`, `${DATABASE_FILE}-shm`, ...(hadKey ? [] : [KEY_FILE, SALT_FILE])]) {
      rmSync(join(dataDir, f), { force: true })
    }
    throw err
  }
}

/** Opens the account of a data directory. Wrong passphrase or key file: StoreError WRONG_KEY. */
export function openAccount (dataDir: string, o: OpenOptions = {}): DeviceContext {
  if (!accountExists(dataDir)) throw new E2eeError('NO_ACCOUNT', 'This data directory holds no account yet; create one first.')
  const key = resolveDatabaseKey(dataDir, { passphrase: o.passphrase, create: false })
  const db = openDatabase({ path: join(dataDir, DATABASE_FILE), key, migrations: MIGRATIONS, synchronous: o.synchronous ?? DEFAULT_SYNCHRONOUS, pageSize: DEVICE_PAGE_SIZE, checkpoint: 'idle', logger: o.logger })
  try {
    const account = new AccountRepository(db).get()
    if (account === undefined) throw new E2eeError('NO_ACCOUNT', 'This data directory holds no account (an earlier creation did not finish); remove it and create the account again.')
    return new DeviceContext(db, account, o)
  } catch (err) {
    db.close()
    throw err
  }
}
