// Issue 11: `0message1 groups ...`, and the group side of `send` and `messages` (a group by id or name).
import type { ApiClient } from '../api/client.ts'
import type { GroupMessageView, GroupView } from '../messenger/groups/types.ts'
import type { ContactView } from '../messenger/types.ts'
import { CliError } from './errors.ts'
import { oneLine } from './format.ts'
import type { Parsed } from './args.ts'
import type { CliRuntime } from './runtime.ts'

export const GROUPS_USAGE = `  groups create NAME --member CONTACT... [--json]
                                               make a group with contacts (each is added once
                                               its device answers with its group card)
  groups list [--json]                         list groups with their members
  groups add GROUP CONTACT                     add a contact to a group (admins)
  groups remove GROUP MEMBER                   remove a member (admins); MEMBER is a name,
                                               account id or contact
  groups promote GROUP MEMBER                  make a member an admin (admins)
  groups rename GROUP NAME                     rename a group (admins)
  groups leave GROUP                           leave a group
GROUP is a group's id or name; \`send\` and \`messages\` also take a GROUP.
`

export interface CliDeps {
  readonly parse: (command: string, args: string[], options: Record<string, { type: 'string' | 'boolean', multiple?: boolean }>) => Parsed
  readonly positional: (p: Parsed, index: number, what: string, command: string) => string
  readonly noExtra: (p: Parsed, count: number, command: string) => void
  readonly client: (p: Parsed) => ApiClient
  readonly json: (value: unknown) => void
  readonly resolveContact: (contacts: readonly ContactView[], query: string) => ContactView
}

export async function groupsList (client: ApiClient): Promise<GroupView[]> {
  return await client.request<GroupView[]>('GET', '/api/groups')
}

/** A group by id or name (exact, then case-insensitive); unknown or ambiguous is an error. */
export function resolveGroup (groups: readonly GroupView[], query: string): GroupView {
  const byId = groups.find((g) => g.id === query)
  if (byId !== undefined) return byId
  const exact = groups.filter((g) => g.name === query)
  if (exact.length === 1 && exact[0] !== undefined) return exact[0]
  const loose = groups.filter((g) => g.name.toLowerCase() === query.trim().toLowerCase())
  if (loose.length === 1 && loose[0] !== undefined) return loose[0]
  if (exact.length > 1 || loose.length > 1) throw new CliError('AMBIGUOUS', 'More than one group has that name; use the group\'s id from `0message1 groups list`.')
  throw new CliError('NOT_FOUND', 'No contact matches that, and no group either; see `0message1 contacts list` and `0message1 groups list`.')
}

function formatGroups (groups: readonly GroupView[]): string {
  if (groups.length === 0) return 'No groups yet: `0message1 groups create NAME --member CONTACT`.\n'
  return groups.map((g) => {
    const members = g.members.map((m) => `${oneLine(m.name)}${m.admin ? ' (admin)' : ''}${m.me ? ' (me)' : ''}${m.metThroughGroup ? ' (met through a group)' : ''}`).join(', ')
    return `${g.id}  ${oneLine(g.name)}${g.member ? '' : ' (left)'}${g.unread > 0 ? `  ${g.unread} unread` : ''}\n  ${g.members.length} member(s): ${members}\n`
  }).join('')
}

export function formatGroupMessages (messages: readonly GroupMessageView[]): string {
  if (messages.length === 0) return 'No messages yet.\n'
  return messages.map((m) => {
    const who = m.direction === 'out' ? 'me' : oneLine(m.senderName)
    const state = m.delivery === undefined ? '' : `  [delivered ${m.delivery.delivered}/${m.delivery.total}, read ${m.delivery.read}/${m.delivery.total}]`
    return `${new Date(m.sentAt).toISOString()}  ${who}: ${oneLine(m.text)}${state}\n`
  }).join('')
}

export async function groupsCommand (rt: CliRuntime, rest: string[], d: CliDeps): Promise<number> {
  const [sub, ...args] = rest
  const command = `groups ${sub ?? ''}`.trim()
  switch (sub) {
    case 'create': {
      const p = d.parse(command, args, { json: { type: 'boolean' }, member: { type: 'string', multiple: true } })
      const name = d.positional(p, 0, 'a group name', command)
      d.noExtra(p, 1, command)
      const client = d.client(p)
      const contacts = await client.contacts()
      const raw = p.values.member
      const wanted = Array.isArray(raw) ? raw.filter((x): x is string => typeof x === 'string') : []
      const members = wanted.map((q) => d.resolveContact(contacts, q).id)
      const g = await client.request<GroupView>('POST', '/api/groups', { name, members })
      if (p.values.json === true) d.json(g)
      else rt.stdout(`Group ${g.id} "${oneLine(g.name)}" made; ${members.length} contact(s) asked to join (they appear once their devices answer).\n`)
      return 0
    }
    case 'list': case undefined: {
      const p = d.parse(command, args, { json: { type: 'boolean' } })
      d.noExtra(p, 0, command)
      const groups = await groupsList(d.client(p))
      if (p.values.json === true) d.json(groups)
      else rt.stdout(formatGroups(groups))
      return 0
    }
    case 'add': case 'remove': case 'promote': case 'rename': {
      const p = d.parse(command, args, { json: { type: 'boolean' } })
      const gq = d.positional(p, 0, 'a group', command)
      const target = d.positional(p, 1, sub === 'rename' ? 'a new name' : sub === 'add' ? 'a contact' : 'a member', command)
      d.noExtra(p, 2, command)
      const client = d.client(p)
      const g = resolveGroup(await groupsList(client), gq)
      const base = `/api/groups/${g.id}`
      let out: GroupView
      if (sub === 'add') {
        out = await client.request<GroupView>('POST', `${base}/members`, { contactId: d.resolveContact(await client.contacts(), target).id })
      } else if (sub === 'rename') {
        out = await client.request<GroupView>('PATCH', base, { name: target })
      } else {
        const byName = g.members.filter((x) => x.name.toLowerCase() === target.toLowerCase())
        const m = g.members.find((x) => x.accountId === target || x.contactId === target) ?? (byName.length === 1 ? byName[0] : undefined)
        // Display names are chosen by their owners: two members may share one, and the CLI never guesses which.
        if (m === undefined && byName.length > 1) throw new CliError('AMBIGUOUS', 'More than one member of that group has that name; use the member\'s account id from `0message1 groups list --json`.')
        if (m === undefined) throw new CliError('NOT_FOUND', 'No member of that group matches; see `0message1 groups list`.')
        out = await client.request<GroupView>(sub === 'remove' ? 'DELETE' : 'POST', `${base}/${sub === 'remove' ? 'members' : 'admins'}/${encodeURIComponent(m.accountId)}`)
      }
      if (p.values.json === true) d.json(out)
      else rt.stdout(sub === 'add' ? 'Asked to join; the contact appears in the group once its device answers.\n' : `Done: ${formatGroups([out])}`)
      return 0
    }
    case 'leave': {
      const p = d.parse(command, args, { json: { type: 'boolean' } })
      const gq = d.positional(p, 0, 'a group', command)
      d.noExtra(p, 1, command)
      const client = d.client(p)
      const g = resolveGroup(await groupsList(client), gq)
      const out = await client.request<GroupView>('POST', `/api/groups/${g.id}/leave`)
      if (p.values.json === true) d.json(out)
      else rt.stdout(`You left "${oneLine(out.name)}".\n`)
      return 0
    }
    default:
      throw new CliError('USAGE', `Unknown \`groups\` subcommand ${JSON.stringify(oneLine(sub))}; use create, list, add, remove, promote, rename or leave.`)
  }
}
