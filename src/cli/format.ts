// Human-readable output of the CLI. Text from contacts is untrusted: control characters (terminal
// escape sequences) are replaced before anything reaches a terminal.
import type { RelayKeeperView } from '../messenger/relay-keeper.ts'
import type { ContactView, KeyChangeView, MessageView, StatusView } from '../messenger/types.ts'

/** Replaces C0/C1 control characters (ESC, CSI, BEL, ...) so a message cannot drive the terminal. */
export function printable (text: string): string {
  let out = ''
  for (const ch of text) {
    const n = ch.codePointAt(0) ?? 0
    out += (n < 0x20 && ch !== '\n' && ch !== '\t') || (n >= 0x7f && n <= 0x9f) || n === 0x2028 || n === 0x2029 || (n >= 0x202a && n <= 0x202e) || (n >= 0x2066 && n <= 0x2069)
      ? '\uFFFD'
      : ch
  }
  return out
}

export function oneLine (text: string): string {
  return printable(text).replace(/[\n\t]/g, ' ')
}

export function time (ms: number): string {
  const d = new Date(ms)
  const p = (n: number): string => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

export function formatContacts (contacts: readonly ContactView[]): string {
  if (contacts.length === 0) return 'No contacts yet. Add one with `0message1 contacts add <invite link>`.\n'
  const lines = contacts.map((c) => {
    const flags = [c.verified ? 'verified' : 'not verified', ...(c.unread > 0 ? [`${c.unread} unread`] : []),
      ...(c.keyChange?.state === 'pending' ? [`SAFETY NUMBER CHANGED: see \`0message1 key-change ${c.id}\``] : []),
      c.link === 'hole-punched' ? 'direct (hole-punched)' : c.link ?? 'not connected']
    return `${c.id}  ${oneLine(c.name)}  ${c.accountId}  (${flags.join(', ')})`
  })
  return lines.join('\n') + '\n'
}

/** The chat's system line for a contact's identity key change, with what the user can do about it. */
export function keyChangeLine (contactName: string, contactId: string, k: KeyChangeView): string {
  const what = k.state === 'pending'
    ? `${k.held} message(s) held; compare the new number with \`0message1 key-change ${contactId}\`, then accept or block it`
    : k.state === 'accepted' ? 'you accepted the new key (not verified)' : 'you blocked the new key; its messages are dropped'
  return `${time(k.at)}  -- ${oneLine(contactName)}'s safety number changed: ${what} --`
}

export function formatMessages (messages: readonly MessageView[], contactName: string, contact?: Pick<ContactView, 'id' | 'keyChange'>): string {
  const k = contact?.keyChange
  const system = k === undefined || contact === undefined ? undefined : keyChangeLine(contactName, contact.id, k)
  if (messages.length === 0) return system === undefined ? 'No messages yet.\n' : system + '\n'
  const lines = messages.map((m) => {
    const who = m.direction === 'out' ? 'me' : oneLine(contactName)
    const state = [m.state, ...(m.path === undefined ? [] : [`via ${m.path}`]), ...(m.failure === undefined ? [] : [oneLine(m.failure)])].join(', ')
    const gap = m.gapBefore !== undefined && m.gapBefore > 0 ? `  [${m.gapBefore} message(s) missing before this one]\n` : ''
    return `${gap}${time(m.at)}  ${who}: ${printable(m.text)}  [${state}]`
  })
  if (system !== undefined && k !== undefined) {
    // Where it happened in the conversation (held messages open later, with the time they were accepted).
    const i = messages.findIndex((m) => m.at > k.at)
    lines.splice(i === -1 ? lines.length : i, 0, system)
  }
  return lines.join('\n') + '\n'
}

export function formatStatus (s: StatusView): string {
  const lines = [
    `Account:      ${s.accountId} (${oneLine(s.name)})`,
    `Peer id:      ${s.peerId}`,
    `NAT:          ${s.nat}`,
    `Connections:  ${s.connections}`,
    `Contacts:     ${s.links.direct + s.links.holePunched} direct (${s.links.holePunched} hole-punched), ${s.links.relayed} relayed`,
    `Outbox:       ${s.outbox} message(s) waiting for delivery`,
    `Relay-only:   ${s.settings.relayOnly ? 'on' : 'off'}`,
    `LAN discovery: ${s.settings.lanDiscovery ? 'on' : 'off'}`,
    `Fetch isolation: ${s.settings.fetchIsolation}`,
    'Relays:'
  ]
  if (s.relays.length === 0) lines.push('  (none)')
  for (const r of s.relays) lines.push(`  ${r.address}  ${r.state}${r.reservation ? ', reservation' : ''}`)
  lines.push('Addresses:')
  if (s.addresses.length === 0) lines.push('  (none)')
  for (const a of s.addresses) lines.push(`  ${a}`)
  return lines.join('\n') + '\n'
}

/** Issue 16: the relays the device keeps by itself, their health, and the user's choices. */
export function formatRelayChoice (v: RelayKeeperView): string {
  const lines = [`Relay choice: keep ${v.target}; ${v.known} advertised relay(s) seen; records refused: ${Object.values(v.rejected).reduce((a, b) => a + b, 0)}`]
  for (const r of v.relays) {
    lines.push(`  ${r.address}  ${r.state}${r.rttMs !== undefined ? `, ${Math.round(r.rttMs)} ms` : ''}${r.operator !== '' ? `, operator ${oneLine(r.operator)}` : ''}, ${r.source}${r.pinned ? ', pinned' : ''}`)
  }
  for (const a of v.excluded) lines.push(`  excluded: ${a}`)
  return lines.join('\n') + '\n'
}
