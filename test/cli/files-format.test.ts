// `files list` (issue 12 review): two group members' files may share a message id, and `files save` then needs the
// file's owner (--owner; the id alone is refused with AMBIGUOUS_FILE). The list prints the owner of each such row.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { formatFiles } from '../../src/cli/files.ts'
import type { FileView } from '../../src/messenger/files/types.ts'

function view (messageId: string, contactId: string, name: string): FileView {
  return {
    messageId, contactId, groupId: 'g1', direction: 'in', name, type: 'application/pdf', size: 2048, state: 'delivered', path: 'relay',
    chunks: 1, doneChunks: 1, bytes: 2048, percent: 100, speed: 0, relayCopies: 0, at: 1
  }
}

test('files list prints the owner of the rows whose message id repeats (what files save --owner takes), and only those', () => {
  const out = formatFiles([view('aa', 'group:g1/alice', 'report.pdf'), view('aa', 'group:g1/mallory', 'fake.pdf'), view('bb', 'group:g1/alice', 'other.pdf')])
  const lines = out.trimEnd().split('\n')
  assert.equal(lines.length, 3)
  assert.ok(lines[0]?.endsWith('  owner group:g1/alice'), lines[0])
  assert.ok(lines[1]?.endsWith('  owner group:g1/mallory'), lines[1])
  assert.ok(!(lines[2] ?? '').includes('owner'), lines[2])
})
