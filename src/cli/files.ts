// Issue 12: the CLI's file commands (`send CONTACT --file PATH [text]`, `files list`, `files save`), over the
// daemon's API. Paths are made absolute here: the daemon opens them as the same user on the same machine.
import { resolve } from 'node:path'
import type { ApiClient } from '../api/client.ts'
import type { FileView } from '../messenger/files/types.ts'
import type { GroupMessageView } from '../messenger/groups/types.ts'
import type { MessageView } from '../messenger/types.ts'

export async function sendFile (client: ApiClient, contactId: string, path: string, text: string): Promise<{ message: MessageView, file: FileView }> {
  return await client.request('POST', `/api/contacts/${encodeURIComponent(contactId)}/files`, { path: resolve(path), ...(text !== '' ? { text } : {}) })
}

/** Issue 12 in groups: a file to a group, and a group's files. */
export async function sendGroupFile (client: ApiClient, groupId: string, path: string, text: string): Promise<{ message: GroupMessageView, file: FileView }> {
  return await client.request('POST', `/api/groups/${encodeURIComponent(groupId)}/files`, { path: resolve(path), ...(text !== '' ? { text } : {}) })
}

export async function listGroupFiles (client: ApiClient, groupId: string): Promise<FileView[]> {
  return await client.request('GET', `/api/groups/${encodeURIComponent(groupId)}/files`)
}

export async function listFiles (client: ApiClient, contactId: string): Promise<FileView[]> {
  return await client.request('GET', `/api/contacts/${encodeURIComponent(contactId)}/files`)
}

/** `owner` (a file's contactId) names the file when two senders used one message id (else 409 AMBIGUOUS_FILE). */
export async function saveFile (client: ApiClient, messageId: string, out: string, owner?: string): Promise<FileView> {
  const query = owner === undefined ? '' : `?owner=${encodeURIComponent(owner)}`
  return await client.request('POST', `/api/files/${encodeURIComponent(messageId)}/save${query}`, { out: resolve(out) })
}

function size (n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`
}

/** "queued", "uploading 40%", "on relay", "downloading 12%", "delivered", "failed: why". */
export function fileState (f: FileView): string {
  switch (f.state) {
    case 'uploading': return `uploading ${f.percent}%${f.speed > 0 ? ` at ${size(f.speed)}/s` : ''}`
    case 'downloading': return `downloading ${f.percent}%${f.speed > 0 ? ` at ${size(f.speed)}/s` : ''}`
    case 'on-relay': return `on relay (${f.relayCopies} ${f.relayCopies === 1 ? 'copy' : 'copies'})`
    case 'failed': return `failed: ${f.failure ?? 'unknown reason'}`
    default: return f.state + (f.failure !== undefined ? ` (${f.failure})` : '')
  }
}

/** A row whose message id another row shares (two group members used one id) ends with its owner: what `files save
 * --owner` takes (the id alone is refused, AMBIGUOUS_FILE). */
export function formatFiles (files: readonly FileView[]): string {
  if (files.length === 0) return 'No files in this conversation.\n'
  const seen = new Map<string, number>()
  for (const f of files) seen.set(f.messageId, (seen.get(f.messageId) ?? 0) + 1)
  return files.map((f) => `${f.messageId}  ${f.direction === 'out' ? 'sent' : 'received'}  ${JSON.stringify(f.name)}  ${size(f.size)}  ${f.type}  ${fileState(f)}${f.path !== undefined ? `  via ${f.path}` : ''}${(seen.get(f.messageId) ?? 0) > 1 ? `  owner ${f.contactId}` : ''}\n`).join('')
}
