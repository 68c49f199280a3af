// Human-readable output of the CLI. Text from contacts is untrusted: control characters (terminal
// escape sequences) are replaced before anything reaches a terminal.
import type { ContactView, MessageView, StatusView } from '../messenger/types.ts'

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
      c.link === 'hole-punched' ? 'direct (hole-punched)' : c.link ?? 'not connected']
    return `${c.id}  ${oneLine(c.name)}  ${c.accountId}  (${flags.join(', ')})`
  })
  return lines.join('\n') + '\n'
}

export function formatMessages (messages: readonly MessageView[], contactName: string): string {
  if (messages.length === 0) return 'No messages yet.\n'
  return messages.map((m) => {
    const who = m.direction === 'out' ? 'me' : oneLine(contactName)
    const state = [m.state, ...(m.path === undefined ? [] : [`via ${m.path}`]), ...(m.failure === undefined ? [] : [oneLine(m.failure)])].join(', ')
    const gap = m.gapBefore !== undefined && m.gapBefore > 0 ? `  [${m.gapBefore} message(s) missing before this one]\n` : ''
    return `${gap}${time(m.at)}  ${who}: ${printable(m.text)}  [${state}]`
  }).join('\n') + '\n'
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
