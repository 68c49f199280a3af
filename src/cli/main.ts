// The `0message1` command: parses the command line, runs one command, prints one clear sentence on
// failure. Commands that need the running node go through its local API (src/api/client.ts).
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { fileState, formatFiles, listFiles, listGroupFiles, saveFile, sendFile, sendGroupFile } from './files.ts'
import { ApiClient } from '../api/client.ts'
import { MAX_API_PAGE, olderPageCursor, type BeforeCursor } from '../api/page-cursor.ts'
import { DEFAULT_PAGE, MAX_GROUP_PAGE } from '../messenger/page-limits.ts'
import type { ContactView, MessageView, PendingSafetyNumberView } from '../messenger/types.ts'
import { CodedError } from '../platform/coded-error.ts'
import { MAX_TEXT_BYTES } from '../wire/text-limit.ts'
import { CliError } from './errors.ts'
import type { Parsed } from './args.ts'
import { defaultRuntime, type CliRuntime } from './runtime.ts'
import { formatContacts, formatMessages, formatRelayChoice, formatStatus, oneLine } from './format.ts'
import { runDemo, runInit, runRelay, runStart } from './daemon.ts'
import { CHAT_COMMANDS, CHAT_CONTACT_SUBCOMMANDS, CHAT_USAGE, chatCommand, chatContactCommand, type CliHelpers } from './chat-commands.ts'
// Issue 11: groups.
import { GROUPS_USAGE, formatGroupMessages, groupsCommand, groupsList, resolveGroup, type CliDeps } from './groups.ts'
import type { GroupMessageView } from '../messenger/groups/types.ts'

export const DEFAULT_DATA_DIR_NAME = '.0message1'

export const USAGE = `Usage: 0message1 <command> [options]

Commands:
  init [--name NAME] [--passphrase-file F]     create this device's account (offline)
  start [--listen MA]... [--relay MA]... [--lan] [--api HOST:PORT] [--passphrase-file F]
                                               run the device node, its web UI and local API
                                               (listens on every interface unless --listen;
                                               --lan: LAN discovery, which shows your peer id
                                               to the local network)
                                               (--api-allow-remote: permit a non-loopback
                                               HOST; the token then travels in plain HTTP)
  relay [--listen MA]... [--bootstrap MA]... [--stun PORT|off] [--announce MA]...
        [--no-advertise] [--operator NAME]
        [--metrics 127.0.0.1:PORT]             run a relay (circuit relay, mailboxes, DHT, and a
                                               STUN responder on UDP PORT, default 3478);
                                               --announce: the public address devices dial
                                               (port forwarding, cloud NAT); --metrics:
                                               Prometheus /metrics and /healthz on loopback
  invite [--json]                              print an invite link to give to someone
  contacts add LINK [--name NAME] [--json]     add a contact from their invite link
  contacts list [--json]                       list contacts
  contacts rename CONTACT NAME                 change a contact's local name
  send CONTACT TEXT                            send a message
  send CONTACT|GROUP --file PATH [TEXT]        send a file (up to 100 MB) with an optional caption
  files list CONTACT|GROUP [--json]            files of a conversation with their transfer state
  files save MESSAGE_ID --out PATH [--owner O] decrypt a received (complete) file to PATH (--owner: the
                                               file's contactId, when two senders used the id)
  messages CONTACT [--limit N] [--before in:ID|out:ID] [--all] [--json]
                                               show a conversation with each message's state and path:
                                               its newest messages, those before a message (a full
                                               page names its cursor last), or all of it (--all)
  safety-number CONTACT [--json]               show the safety number to compare with a contact
  verify CONTACT [--off]                       mark a contact verified (after comparing numbers)
  key-change CONTACT [--accept DIGITS | --block DIGITS] [--json]
                                               a contact's safety number changed: show the new
                                               number to compare, then accept (their held messages
                                               open) or block the key with the number you compared
  status [--json]                              peer id, relays, NAT status, queue sizes
  settings [--fetch-isolation device|contact] [--json]
                                               show settings, or change how mailboxes are fetched
  demo [--keep]                                a relay and two devices (alice, bob) on loopback
${CHAT_USAGE}
${GROUPS_USAGE}
Options for every command:
  --data DIR     data directory (default: $ZEROM1_DATA, else ~/.0message1)
  --log-level L  debug, info, warn, error or silent (logs go to stderr)
  --help         this text

CONTACT is a contact's id, account id or name (see \`contacts list\`).
`

type Options = NonNullable<ParseArgsConfig['options']>
const COMMON: Options = {
  data: { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' }
}
const JSON_OPT: Options = { json: { type: 'boolean' } }


/** `--before in:ID` or `out:ID`: a message of the conversation (ids are unique per direction only). */
function parseCursor (v: string): BeforeCursor {
  const m = /^(in|out):([0-9a-f]{32})$/.exec(v)
  if (m === null) throw new CliError('USAGE', '--before takes in:ID or out:ID, a message of the conversation (its direction and 32-hex id, as `messages --json` shows them).')
  return { beforeDirection: m[1] as 'in' | 'out', beforeId: m[2] as string }
}

/**
 * Every message of a conversation, as its pages, oldest first. One walk back from the newest page, each page starting
 * just past the last one's oldest message: the node pages by key, so a message that comes or goes meanwhile is in the
 * walk or not, but no other is skipped or shown twice. The CLI holds every page until the walk ends (the node one page
 * at a time).
 */
async function wholeConversation (client: ApiClient, contactId: string): Promise<MessageView[][]> {
  const page = async (before?: BeforeCursor): Promise<MessageView[]> => {
    try {
      return await client.messages(contactId, { limit: MAX_API_PAGE, ...(before === undefined ? {} : { before }) })
    } catch (err) {
      if (err instanceof CodedError && err.code === 'UNKNOWN_MESSAGE') throw new CliError('FAILED', 'A message the pages are read from was deleted while the conversation was read; run the command again.', { cause: err })
      throw err
    }
  }
  const pages = [await page()]
  for (let c = olderPageCursor(pages[0] ?? []); c !== undefined;) {
    const older = await page(c)
    if (older.length === 0) break
    pages.push(older)
    c = olderPageCursor(older)
  }
  return pages.reverse()
}

function parse (command: string, args: string[], options: Options): Parsed {
  try {
    const r = parseArgs({ args, options: { ...COMMON, ...options }, allowPositionals: true, strict: true })
    return { values: r.values as Parsed['values'], positionals: r.positionals }
  } catch (err) {
    const m = /'(-[^']*)'/.exec((err as Error).message)
    const code = (err as { code?: string }).code
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && m !== null) throw new CliError('USAGE', `Unknown option ${m[1] ?? ''} for \`${command}\`; see \`0message1 --help\`.`)
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && m !== null) throw new CliError('USAGE', `Option ${m[1] ?? ''} of \`${command}\` needs a value; see \`0message1 --help\`.`)
    throw new CliError('USAGE', `Cannot read the options of \`${command}\`; see \`0message1 --help\`.`)
  }
}

export function dataDirOf (values: Parsed['values'], env: CliRuntime['env']): string {
  const given = typeof values.data === 'string' ? values.data : env.ZEROM1_DATA
  return resolve(given !== undefined && given !== '' ? given : join(homedir(), DEFAULT_DATA_DIR_NAME))
}

function positional (p: Parsed, index: number, what: string, command: string): string {
  const v = p.positionals[index]
  if (v === undefined || v === '') throw new CliError('USAGE', `\`${command}\` needs ${what}; see \`0message1 --help\`.`)
  return v
}

function noExtra (p: Parsed, count: number, command: string): void {
  if (p.positionals.length > count) throw new CliError('USAGE', `\`${command}\` takes ${count === 0 ? 'no arguments' : `${count} argument(s)`}; put text with spaces in quotes.`)
}

const normalizeId = (s: string): string => s.replace(/[^A-Za-z0-9]/g, '').toUpperCase()

/** A contact by id, account id, or name (case-insensitive); ambiguous or unknown is an error. */
export function resolveContact (contacts: readonly ContactView[], query: string): ContactView {
  const byId = contacts.find((c) => c.id === query)
  if (byId !== undefined) return byId
  const q = normalizeId(query)
  if (q.length >= 6) {
    const byAccount = contacts.filter((c) => normalizeId(c.accountId).startsWith(q))
    if (byAccount.length === 1 && byAccount[0] !== undefined) return byAccount[0]
  }
  const lower = query.trim().toLowerCase()
  const byName = contacts.filter((c) => c.name.toLowerCase() === lower)
  if (byName.length === 1 && byName[0] !== undefined) return byName[0]
  if (byName.length > 1) throw new CliError('AMBIGUOUS', 'More than one contact has that name; use the contact\'s id from `0message1 contacts list`.')
  throw new CliError('NOT_FOUND', 'No contact matches that; see `0message1 contacts list`.')
}

function json (rt: CliRuntime, value: unknown): void {
  rt.stdout(JSON.stringify(value, null, 2) + '\n')
}

async function clientCommand (rt: CliRuntime, command: string, rest: string[]): Promise<number> {
  switch (command) {
    case 'invite': {
      const p = parse(command, rest, JSON_OPT)
      noExtra(p, 0, command)
      const invite = await ApiClient.forDataDir(dataDirOf(p.values, rt.env)).createInvite()
      if (p.values.json === true) json(rt, invite)
      else rt.stdout(invite.link + '\n')
      return 0
    }
    case 'contacts': {
      const sub = rest[0]
      if (sub === 'add') {
        const p = parse('contacts add', rest.slice(1), { ...JSON_OPT, name: { type: 'string' } })
        const link = positional(p, 0, 'an invite link', 'contacts add')
        noExtra(p, 1, 'contacts add')
        const client = ApiClient.forDataDir(dataDirOf(p.values, rt.env))
        const contact = await client.addContact(link, typeof p.values.name === 'string' ? p.values.name : undefined)
        if (p.values.json === true) json(rt, contact)
        else rt.stdout(`Added ${oneLine(contact.name)} (${contact.accountId}); contact id ${contact.id}.\n`)
        return 0
      }
      if (sub === 'list' || sub === undefined || sub.startsWith('-')) {
        const p = parse('contacts list', sub === 'list' ? rest.slice(1) : rest, JSON_OPT)
        noExtra(p, 0, 'contacts list')
        const contacts = await ApiClient.forDataDir(dataDirOf(p.values, rt.env)).contacts()
        if (p.values.json === true) json(rt, contacts)
        else rt.stdout(formatContacts(contacts))
        return 0
      }
      if (sub === 'rename') {
        const p = parse('contacts rename', rest.slice(1), JSON_OPT)
        const query = positional(p, 0, 'a contact', 'contacts rename')
        const name = positional(p, 1, 'a new name', 'contacts rename')
        noExtra(p, 2, 'contacts rename')
        const client = ApiClient.forDataDir(dataDirOf(p.values, rt.env))
        const contact = resolveContact(await client.contacts(), query)
        const renamed = await client.request<ContactView>('PATCH', `/api/contacts/${encodeURIComponent(contact.id)}`, { name })
        if (p.values.json === true) json(rt, renamed)
        else rt.stdout(`Renamed to ${oneLine(renamed.name)}.\n`)
        return 0
      }
      if (CHAT_CONTACT_SUBCOMMANDS.has(sub)) return await chatContactCommand(rt, CHAT_HELPERS, sub, rest.slice(1))
      throw new CliError('USAGE', `Unknown \`contacts\` subcommand ${JSON.stringify(oneLine(sub))}; use add, list, rename, block, unblock or delete.`)
    }
    case 'send': {
      const p = parse(command, rest, { ...JSON_OPT, file: { type: 'string' } })
      const query = positional(p, 0, 'a contact', command)
      if (typeof p.values.file === 'string') {
        noExtra(p, 2, command)
        const client = ApiClient.forDataDir(dataDirOf(p.values, rt.env))
        const contact = await contactOrGroup(client, query)
        // Issue 12 in groups: a group takes a file as a contact does.
        const sent = 'members' in contact ? await sendGroupFile(client, contact.id, p.values.file, p.positionals[1] ?? '') : await sendFile(client, contact.id, p.values.file, p.positionals[1] ?? '')
        if (p.values.json === true) json(rt, sent)
        else rt.stdout(`File ${sent.message.id} (${oneLine(sent.file.name)}) is ${fileState(sent.file)}; \`0message1 files list ${contact.id}\` shows its progress.\n`)
        return 0
      }
      const text = positional(p, 1, 'the text to send', command)
      noExtra(p, 2, command)
      // Refused here as the web UI refuses it: nothing to send, or more than one message holds.
      if (text.trim() === '') throw new CliError('USAGE', 'The message is empty; write the text to send, in quotes.')
      const bytes = Buffer.byteLength(text, 'utf8')
      if (bytes > MAX_TEXT_BYTES) throw new CliError('USAGE', `The message is ${bytes} bytes of UTF-8; one message holds at most ${MAX_TEXT_BYTES}. Split it.`)
      const client = ApiClient.forDataDir(dataDirOf(p.values, rt.env))
      const contact = await contactOrGroup(client, query)
      if ('members' in contact) {
        const sent = await client.request<GroupMessageView>('POST', `/api/groups/${contact.id}/messages`, { text })
        if (p.values.json === true) json(rt, sent)
        else rt.stdout(`Message ${sent.id} queued for ${sent.delivery?.total ?? 0} member(s) of "${oneLine(contact.name)}".\n`)
        return 0
      }
      const message = await client.send(contact.id, text)
      if (p.values.json === true) json(rt, message)
      else rt.stdout(`Message ${message.id} is ${message.state}; \`0message1 messages ${contact.id}${typeof p.values.data === 'string' ? ` --data ${p.values.data}` : ''}\` shows when it is delivered.\n`)
      return 0
    }
    case 'files': {
      const sub = rest[0]
      if (sub === 'list') {
        const p = parse('files list', rest.slice(1), JSON_OPT)
        const query = positional(p, 0, 'a contact', 'files list')
        noExtra(p, 1, 'files list')
        const client = ApiClient.forDataDir(dataDirOf(p.values, rt.env))
        const target = await contactOrGroup(client, query)
        const files = 'members' in target ? await listGroupFiles(client, target.id) : await listFiles(client, target.id)
        if (p.values.json === true) json(rt, files)
        else rt.stdout(formatFiles(files))
        return 0
      }
      if (sub === 'save') {
        const p = parse('files save', rest.slice(1), { ...JSON_OPT, out: { type: 'string' }, owner: { type: 'string' } })
        const id = positional(p, 0, 'a message id', 'files save')
        noExtra(p, 1, 'files save')
        if (typeof p.values.out !== 'string') throw new CliError('USAGE', '`files save` needs --out PATH.')
        const saved = await saveFile(ApiClient.forDataDir(dataDirOf(p.values, rt.env)), id, p.values.out, typeof p.values.owner === 'string' ? p.values.owner : undefined)
        if (p.values.json === true) json(rt, saved)
        else rt.stdout(`Saved ${oneLine(saved.name)} (${saved.size} bytes, hash checked) to ${p.values.out}.\n`)
        return 0
      }
      throw new CliError('USAGE', 'Use `files list CONTACT` or `files save MESSAGE_ID --out PATH`.')
    }
    case 'messages': {
      const p = parse(command, rest, { ...JSON_OPT, limit: { type: 'string' }, before: { type: 'string' }, all: { type: 'boolean' } })
      const query = positional(p, 0, 'a contact', command)
      noExtra(p, 1, command)
      let limit: number | undefined
      if (typeof p.values.limit === 'string') {
        limit = Number(p.values.limit)
        if (!Number.isInteger(limit) || limit < 1 || limit > Math.max(MAX_API_PAGE, MAX_GROUP_PAGE)) throw new CliError('USAGE', `--limit must be a whole number from 1 to ${MAX_API_PAGE} (${MAX_GROUP_PAGE} for a group).`)
      }
      const before = typeof p.values.before === 'string' ? parseCursor(p.values.before) : undefined
      const all = p.values.all === true
      if (all && (limit !== undefined || before !== undefined)) throw new CliError('USAGE', '--all shows the whole conversation: it takes neither --limit nor --before.')
      const client = ApiClient.forDataDir(dataDirOf(p.values, rt.env))
      const contact = await contactOrGroup(client, query)
      if ('members' in contact) {
        if (all || before !== undefined) throw new CliError('USAGE', 'A group shows its newest messages only (--limit N): --before and --all are for a contact.')
        const list = await client.request<GroupMessageView[]>('GET', `/api/groups/${contact.id}/messages${limit === undefined ? '' : `?limit=${limit}`}`)
        if (p.values.json === true) json(rt, list)
        else rt.stdout(formatGroupMessages(list))
        return 0
      }
      if (limit !== undefined && limit > MAX_API_PAGE) throw new CliError('USAGE', `--limit must be a whole number from 1 to ${MAX_API_PAGE} for a contact.`)
      if (all) {
        // Printed once the walk has ended: a failure leaves nothing half-written on stdout.
        const pages = await wholeConversation(client, contact.id)
        if (p.values.json === true) json(rt, pages.flat())
        else {
          // The key change line once: in the page where it happened (else after the last message).
          const k = contact.keyChange
          let keyLine = k === undefined
          for (const page of pages) {
            if (page.length === 0) continue
            const here = !keyLine && k !== undefined && page.some((m) => m.at > k.at)
            rt.stdout(formatMessages(page, contact.name, here ? contact : undefined))
            if (here) keyLine = true
          }
          if (pages.every((page) => page.length === 0) || !keyLine) rt.stdout(formatMessages([], contact.name, keyLine ? undefined : contact))
        }
        return 0
      }
      const messages = await client.messages(contact.id, { ...(limit === undefined ? {} : { limit }), ...(before === undefined ? {} : { before }) })
      if (p.values.json === true) json(rt, messages)
      else if (before !== undefined && messages.length === 0) rt.stdout('No older messages.\n')
      else {
        rt.stdout(formatMessages(messages, contact.name, contact))
        // A full page may have older messages before it: say how to see them.
        const older = messages.length >= (limit ?? DEFAULT_PAGE) ? olderPageCursor(messages) : undefined
        if (older !== undefined) rt.stdout(`Older messages: \`0message1 messages ${contact.id} --before ${older.beforeDirection}:${older.beforeId}${limit === undefined ? '' : ` --limit ${limit}`}\`\n`)
      }
      return 0
    }
    case 'safety-number': {
      const p = parse(command, rest, JSON_OPT)
      const query = positional(p, 0, 'a contact', command)
      noExtra(p, 1, command)
      const client = ApiClient.forDataDir(dataDirOf(p.values, rt.env))
      const contact = resolveContact(await client.contacts(), query)
      const sn = await client.safetyNumber(contact.id)
      if (p.values.json === true) json(rt, sn)
      else {
        const groups = sn.digits.match(/.{1,5}/g) ?? []
        rt.stdout(`Safety number with ${oneLine(contact.name)} (${sn.verified ? 'verified' : 'not verified'}):\n`)
        for (let i = 0; i < groups.length; i += 4) rt.stdout('  ' + groups.slice(i, i + 4).join(' ') + '\n')
        rt.stdout('Compare it with the number on their device; if it matches, run `0message1 verify ' + contact.id + '`.\n')
      }
      return 0
    }
    case 'verify': {
      const p = parse(command, rest, { off: { type: 'boolean' } })
      const query = positional(p, 0, 'a contact', command)
      noExtra(p, 1, command)
      const client = ApiClient.forDataDir(dataDirOf(p.values, rt.env))
      const contact = resolveContact(await client.contacts(), query)
      const sn = await client.setVerified(contact.id, p.values.off !== true)
      rt.stdout(sn.verified ? 'Marked verified.\n' : 'Marked not verified.\n')
      return 0
    }
    case 'key-change': {
      // The decision carries the digits the user compared (--accept DIGITS), never fetched at decision
      // time: the number shown by an earlier run may have been replaced by a newer key since (someone
      // else's), and fetching-then-accepting would pin that one unseen. The API refuses a moved number.
      const p = parse(command, rest, { ...JSON_OPT, accept: { type: 'string' }, block: { type: 'string' } })
      const query = positional(p, 0, 'a contact', command)
      noExtra(p, 1, command)
      const accept = typeof p.values.accept === 'string' ? p.values.accept : undefined
      const block = typeof p.values.block === 'string' ? p.values.block : undefined
      if (accept !== undefined && block !== undefined) throw new CliError('USAGE', 'Give --accept or --block, not both.')
      const client = ApiClient.forDataDir(dataDirOf(p.values, rt.env))
      const contact = resolveContact(await client.contacts(), query)
      const path = `/api/contacts/${encodeURIComponent(contact.id)}/key-change`
      const decision = accept !== undefined ? 'accept' : block !== undefined ? 'block' : undefined
      if (decision !== undefined) {
        const decided = await client.request<ContactView>('POST', `${path}/${decision}`, { digits: accept ?? block })
        if (p.values.json === true) json(rt, decided)
        else rt.stdout(decision === 'accept'
          ? `Accepted ${oneLine(decided.name)}'s new key; their held messages are in the conversation. Verify it with \`0message1 safety-number ${decided.id}\` when you can.\n`
          : `Blocked ${oneLine(decided.name)}'s new key; its messages are dropped.\n`)
        return 0
      }
      const sn = await client.request<PendingSafetyNumberView>('GET', path)
      if (p.values.json === true) json(rt, sn)
      else {
        const groups = sn.digits.match(/.{1,5}/g) ?? []
        rt.stdout(`${oneLine(contact.name)}'s safety number changed (${sn.held} message(s) held). The new number:\n`)
        for (let i = 0; i < groups.length; i += 4) rt.stdout('  ' + groups.slice(i, i + 4).join(' ') + '\n')
        rt.stdout(`Compare it with the number on their device (in person or by a call). If it matches: \`0message1 key-change ${contact.id} --accept ${sn.digits}\`; if not: \`0message1 key-change ${contact.id} --block ${sn.digits}\`.\n`)
      }
      return 0
    }
    case 'settings': {
      const p = parse(command, rest, { ...JSON_OPT, 'fetch-isolation': { type: 'string' } })
      noExtra(p, 0, command)
      const client = ApiClient.forDataDir(dataDirOf(p.values, rt.env))
      const iso = p.values['fetch-isolation']
      if (iso !== undefined && iso !== 'device' && iso !== 'contact') throw new CliError('USAGE', '--fetch-isolation is either device or contact.')
      const s = iso === undefined ? await client.settings() : await client.updateSettings({ fetchIsolation: iso })
      if (p.values.json === true) json(rt, s)
      else rt.stdout(`Relay-only: ${s.relayOnly ? 'on' : 'off'}\nLAN discovery: ${s.lanDiscovery ? 'on' : 'off'}\nFetch isolation: ${s.fetchIsolation}\nRelays:\n${s.relays.map((r) => `  ${r}\n`).join('') || '  (none)\n'}`)
      return 0
    }
    case 'status': {
      const p = parse(command, rest, JSON_OPT)
      noExtra(p, 0, command)
      const client = ApiClient.forDataDir(dataDirOf(p.values, rt.env))
      const state = await client.state()
      if (state !== 'ready') {
        if (p.values.json === true) json(rt, { state })
        else rt.stdout(state === 'locked' ? 'The node is running but locked; unlock it in the web UI.\n' : 'The node is running but has no account yet; create one in the web UI or with `0message1 init`.\n')
        return 0
      }
      const status = await client.status()
      // Issue 16: the relays the device chose itself (absent when its relay keeper is off).
      const relayChoice = await client.relayChoice().catch(() => undefined)
      if (p.values.json === true) json(rt, { state, ...status, ...(relayChoice !== undefined ? { relayChoice } : {}) })
      else rt.stdout(formatStatus(status) + (relayChoice !== undefined ? formatRelayChoice(relayChoice) : ''))
      return 0
    }
    case 'groups':
      return await groupsCommand(rt, rest, cliDeps(rt))
    default:
      if (CHAT_COMMANDS.has(command)) return await chatCommand(rt, CHAT_HELPERS, command, rest)
      throw new CliError('USAGE', `Unknown command ${JSON.stringify(oneLine(command))}; see \`0message1 --help\`.`)
  }
}

/** What the issue 13 commands (chat-commands.ts) use of this file. */
const CHAT_HELPERS: CliHelpers = { parse, positional, noExtra, dataDirOf, resolveContact, json }

/** Issue 11: a contact, else a group (by id or name). */
async function contactOrGroup (client: ApiClient, query: string): Promise<ContactView | Awaited<ReturnType<typeof groupsList>>[number]> {
  try {
    return resolveContact(await client.contacts(), query)
  } catch (err) {
    if (!CliError.is(err, 'NOT_FOUND')) throw err
    // A node without groups answers the contact's error, not its own.
    const groups = await groupsList(client).catch(() => { throw err })
    return resolveGroup(groups, query)
  }
}

function cliDeps (rt: CliRuntime): CliDeps {
  return {
    parse: (command, args, options) => parse(command, args, options),
    positional,
    noExtra,
    client: (p) => ApiClient.forDataDir(dataDirOf(p.values, rt.env)),
    json: (value) => { json(rt, value) },
    resolveContact
  }
}

/** Runs one command; returns the exit code (0 ok, 1 failed, 2 wrong command line). */
export async function main (argv: string[], runtime: CliRuntime = defaultRuntime()): Promise<number> {
  const rt = runtime
  const [command, ...rest] = argv
  if (command === undefined) {
    rt.stderr(USAGE)
    return 2
  }
  if (command === 'help' || command === '--help' || command === '-h' || rest.includes('--help') || rest.includes('-h')) {
    rt.stdout(USAGE)
    return 0
  }
  try {
    switch (command) {
      case 'init': {
        const p = parse(command, rest, { name: { type: 'string' }, 'passphrase-file': { type: 'string' }, ...JSON_OPT })
        noExtra(p, 0, command)
        return await runInit(rt, p, dataDirOf(p.values, rt.env))
      }
      case 'start': {
        const p = parse(command, rest, {
          listen: { type: 'string', multiple: true },
          relay: { type: 'string', multiple: true },
          bootstrap: { type: 'string', multiple: true },
          api: { type: 'string' },
          lan: { type: 'boolean' },
          'api-allow-remote': { type: 'boolean' },
          'passphrase-file': { type: 'string' }
        })
        noExtra(p, 0, command)
        return await runStart(rt, p, dataDirOf(p.values, rt.env))
      }
      case 'relay': {
        const p = parse(command, rest, {
          listen: { type: 'string', multiple: true },
          bootstrap: { type: 'string', multiple: true },
          stun: { type: 'string' },
          announce: { type: 'string', multiple: true },
          metrics: { type: 'string' },
          'no-advertise': { type: 'boolean' },
          operator: { type: 'string' },
          ...JSON_OPT
        })
        noExtra(p, 0, command)
        return await runRelay(rt, p, dataDirOf(p.values, rt.env))
      }
      case 'demo': {
        const p = parse(command, rest, { keep: { type: 'boolean' }, ...JSON_OPT })
        noExtra(p, 0, command)
        return await runDemo(rt, p)
      }
      default:
        return await clientCommand(rt, command, rest)
    }
  } catch (err) {
    return report(rt, err)
  }
}

function report (rt: CliRuntime, err: unknown): number {
  if (CliError.is(err)) {
    rt.stderr(`0message1: ${err.message}\n`)
    return CliError.is(err, 'USAGE') ? 2 : 1
  }
  // Every layer's typed error carries a sentence meant for a person (ApiError included).
  if (err instanceof CodedError) {
    rt.stderr(`0message1: ${err.message}\n`)
    return 1
  }
  const e = err instanceof Error ? err : new Error(String(err))
  rt.stderr(`0message1: unexpected error (${e.name}): ${oneLine(e.message)}\n`)
  if (rt.env.ZEROM1_DEBUG === '1' && e.stack !== undefined) rt.stderr(e.stack + '\n')
  return 1
}
