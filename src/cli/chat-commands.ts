// Issue 13 commands: search, reply, edit, delete, contacts block/unblock/delete, invites (list, revoke).
// main.ts hands over the commands it does not know and passes its argument helpers.
import type { ParseArgsConfig } from 'node:util'
import { ApiClient } from '../api/client.ts'
import type { ContactView, MessageView, PendingInviteView, SearchHitView } from '../messenger/types.ts'
import type { Parsed } from './args.ts'
import { CliError } from './errors.ts'
import { oneLine, printable, time } from './format.ts'
import type { CliRuntime } from './runtime.ts'

type Options = NonNullable<ParseArgsConfig['options']>

export interface CliHelpers {
  parse: (command: string, args: string[], options: Options) => Parsed
  positional: (p: Parsed, index: number, what: string, command: string) => string
  noExtra: (p: Parsed, count: number, command: string) => void
  dataDirOf: (values: Parsed['values'], env: CliRuntime['env']) => string
  resolveContact: (contacts: readonly ContactView[], query: string) => ContactView
  json: (rt: CliRuntime, value: unknown) => void
}

export const CHAT_USAGE = `  search QUERY [--json]                        search every conversation (words, prefixes)
  reply CONTACT MESSAGE_ID TEXT                reply to a message, quoting it
  edit CONTACT MESSAGE_ID TEXT                 edit one of your messages (within 15 minutes)
  delete CONTACT MESSAGE_ID [--everyone]       delete a message here, or (your own) for everyone
  contacts block|unblock|delete CONTACT        block a contact, unblock, or delete it
  invites [--json]                             pending invites; \`invites revoke ID\` revokes one;
                                               \`invites short\` prints a short link (<= 120 chars)
`

export const CHAT_COMMANDS: ReadonlySet<string> = new Set(['search', 'reply', 'edit', 'delete', 'invites'])
export const CHAT_CONTACT_SUBCOMMANDS: ReadonlySet<string> = new Set(['block', 'unblock', 'delete'])
const JSON_OPT: Options = { json: { type: 'boolean' } }
const path = (...parts: string[]): string => parts.map(encodeURIComponent).join('/')

/** The snippet's match markers (U+0002, U+0003) as brackets on a terminal. */
function marked (snippet: string): string {
  return printable(snippet.replaceAll('\u0002', '[').replaceAll('\u0003', ']'))
}

export async function chatCommand (rt: CliRuntime, h: CliHelpers, command: string, rest: string[]): Promise<number> {
  switch (command) {
    case 'search': {
      const p = h.parse(command, rest, JSON_OPT)
      const query = h.positional(p, 0, 'words to search for', command)
      h.noExtra(p, 1, command)
      const client = ApiClient.forDataDir(h.dataDirOf(p.values, rt.env))
      const hits = await client.request<SearchHitView[]>('GET', `/api/search?q=${encodeURIComponent(query)}`)
      if (p.values.json === true) { h.json(rt, hits); return 0 }
      if (hits.length === 0) { rt.stdout('No message matches.\n'); return 0 }
      const names = new Map((await client.contacts()).map((c) => [c.id, c.name]))
      for (const hit of hits) {
        const who = hit.direction === 'out' ? 'me' : oneLine(names.get(hit.contactId) ?? '?')
        rt.stdout(`${time(hit.at)}  ${who}  ${marked(hit.snippet)}  (${hit.messageId})\n`)
      }
      return 0
    }
    case 'reply':
    case 'edit': {
      const p = h.parse(command, rest, JSON_OPT)
      const query = h.positional(p, 0, 'a contact', command)
      const id = h.positional(p, 1, 'a message id (see `messages CONTACT --json`)', command)
      const text = h.positional(p, 2, 'the text', command)
      h.noExtra(p, 3, command)
      const client = ApiClient.forDataDir(h.dataDirOf(p.values, rt.env))
      const contact = h.resolveContact(await client.contacts(), query)
      if (text.trim().length === 0) throw new CliError('USAGE', 'A message needs some text.')
      const m = command === 'reply'
        ? await client.request<MessageView>('POST', `/api/${path('contacts', contact.id, 'messages')}`, { text, replyTo: id })
        : await client.request<MessageView>('PATCH', `/api/${path('contacts', contact.id, 'messages', id)}`, { text })
      if (p.values.json === true) h.json(rt, m)
      else rt.stdout(command === 'reply' ? `Reply ${m.id} is ${m.state}.\n` : `Message ${m.id} edited.\n`)
      return 0
    }
    case 'delete': {
      const p = h.parse(command, rest, { ...JSON_OPT, everyone: { type: 'boolean' } })
      const query = h.positional(p, 0, 'a contact', command)
      const id = h.positional(p, 1, 'a message id', command)
      h.noExtra(p, 2, command)
      const client = ApiClient.forDataDir(h.dataDirOf(p.values, rt.env))
      const contact = h.resolveContact(await client.contacts(), query)
      const everyone = p.values.everyone === true
      await client.request('DELETE', `/api/${path('contacts', contact.id, 'messages', id)}?for=${everyone ? 'everyone' : 'me'}`)
      rt.stdout(everyone ? 'Deleted for everyone.\n' : 'Deleted here.\n')
      return 0
    }
    case 'invites': {
      const revoke = rest[0] === 'revoke'
      const short = rest[0] === 'short'
      const p = h.parse(command, revoke || short ? rest.slice(1) : rest, JSON_OPT)
      const client = ApiClient.forDataDir(h.dataDirOf(p.values, rt.env))
      if (short) {
        h.noExtra(p, 0, 'invites short')
        const s = await client.request<{ short: string, link: string, expiresAt: number }>('POST', '/api/invites/short')
        if (p.values.json === true) h.json(rt, s)
        else rt.stdout(s.short + '\n')
        return 0
      }
      if (revoke) {
        const id = h.positional(p, 0, 'an invite id (see `invites`)', 'invites revoke')
        h.noExtra(p, 1, 'invites revoke')
        await client.request('DELETE', `/api/${path('invites', id)}`)
        rt.stdout('Invite revoked; an answer to it will be refused.\n')
        return 0
      }
      h.noExtra(p, 0, command)
      const list = await client.request<PendingInviteView[]>('GET', '/api/invites')
      if (p.values.json === true) { h.json(rt, list); return 0 }
      if (list.length === 0) { rt.stdout('No pending invites.\n'); return 0 }
      for (const i of list) rt.stdout(`${i.id}  made ${time(i.createdAt)}, expires ${time(i.expiresAt)}\n`)
      return 0
    }
    default:
      throw new CliError('USAGE', `Unknown command ${JSON.stringify(oneLine(command))}; see \`0message1 --help\`.`)
  }
}

/** `contacts block|unblock|delete CONTACT`. */
export async function chatContactCommand (rt: CliRuntime, h: CliHelpers, sub: string, rest: string[]): Promise<number> {
  const command = `contacts ${sub}`
  const p = h.parse(command, rest, JSON_OPT)
  const query = h.positional(p, 0, 'a contact', command)
  h.noExtra(p, 1, command)
  const client = ApiClient.forDataDir(h.dataDirOf(p.values, rt.env))
  const contact = h.resolveContact(await client.contacts(), query)
  if (sub === 'delete') {
    await client.request('DELETE', `/api/${path('contacts', contact.id)}`)
    rt.stdout(`Deleted ${oneLine(contact.name)} and your conversation.\n`)
    return 0
  }
  const view = await client.request<ContactView>('PUT', `/api/${path('contacts', contact.id, 'blocked')}`, { blocked: sub === 'block' })
  if (p.values.json === true) h.json(rt, view)
  else rt.stdout(sub === 'block' ? `Blocked ${oneLine(contact.name)}: nothing from them is kept or shown.\n` : `Unblocked ${oneLine(contact.name)}.\n`)
  return 0
}
