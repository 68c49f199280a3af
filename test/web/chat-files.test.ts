// The web UI's files of a one-to-one chat (web/src/screens/useFiles.ts): the contact chooses its own message ids, so
// its message may reuse the id of one of mine. A file is found by direction and id: the contact's file never shows
// under my message, nor mine under its (a file by id alone showed the contact's file under my own bubble).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { byChatFileKey, chatFileKey } from '../../web/src/screens/useFiles.ts'
import type { FileView } from '../../web/src/api.ts'

const file = (direction: 'in' | 'out', messageId: string, name: string): FileView =>
  ({ messageId, direction, name }) as unknown as FileView

test('chat files: a contact\'s file under the id of my message is found under its message only', () => {
  const id = 'ab'.repeat(16)
  const theirs = file('in', id, 'theirs.png')
  const map = new Map([theirs].map((f) => [byChatFileKey(f), f]))
  assert.equal(map.get(chatFileKey('out', id)), undefined, 'the contact\'s file shows under my message')
  assert.equal(map.get(chatFileKey('in', id))?.name, 'theirs.png')
  const mine = file('out', id, 'mine.png')
  map.set(byChatFileKey(mine), mine)
  assert.equal(map.get(chatFileKey('out', id))?.name, 'mine.png')
  assert.equal(map.get(chatFileKey('in', id))?.name, 'theirs.png')
})
