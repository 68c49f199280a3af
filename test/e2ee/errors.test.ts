// isPermanent decides whether a relay copy is deleted: by error class and code, never by "has a code".
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { E2eeError, isPermanent } from '../../src/e2ee/errors.ts'
import { StoreError } from '../../src/store/errors.ts'
import { MessengerError } from '../../src/messenger/errors.ts'

test('isPermanent: bytes that can never open are permanent; a late card, a closed device and other layers\' errors are not', () => {
  for (const code of ['MALFORMED', 'TAMPERED', 'DUPLICATE', 'UNTRUSTED_IDENTITY', 'BAD_SENDER', 'UNDECRYPTABLE', 'BAD_PAYLOAD', 'UNKNOWN_MAILBOX', 'INVITE_EXPIRED'] as const) {
    assert.equal(isPermanent(new E2eeError(code, 'x')), true, code)
  }
  assert.equal(isPermanent(new E2eeError('CARD_REQUIRED', 'x')), false)
  assert.equal(isPermanent(new E2eeError('CLOSED', 'x')), false)
  // A database failure carries a code too; deleting the copy then would lose the message.
  assert.equal(isPermanent(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })), false)
  assert.equal(isPermanent(new StoreError('CLOSED', 'x')), false)
  assert.equal(isPermanent(new MessengerError('STOPPED', 'x')), false)
  assert.equal(isPermanent(undefined), false)
})
