// The user's relay choices (issue 16), kept as one JSON value in the settings table (no migration): how many
// relays to keep, which are pinned or excluded, and extra bootstrap peers. Read back checked, never trusted.
import { MessengerError } from './errors.ts'
import { DEFAULT_RELAY_PREFS, MAX_RELAY_TARGET, MIN_RELAY_TARGET, type RelayPrefs } from './relay-keeper.ts'
import { MAX_ADDRESS_BYTES } from '../wire/payload.ts'

/** Pinned, excluded and bootstrap lists each hold at most this many addresses (a settings page, not a directory). */
export const MAX_RELAY_PREF_ENTRIES = 32

function list (v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x.length > 0 && Buffer.byteLength(x) <= MAX_ADDRESS_BYTES).slice(0, MAX_RELAY_PREF_ENTRIES) : []
}

export function loadRelayPrefs (raw: string | undefined): RelayPrefs {
  if (raw === undefined) return DEFAULT_RELAY_PREFS
  let parsed: Record<string, unknown>
  try { parsed = JSON.parse(raw) as Record<string, unknown> } catch { return DEFAULT_RELAY_PREFS }
  const target = typeof parsed.target === 'number' && Number.isInteger(parsed.target) && parsed.target >= MIN_RELAY_TARGET && parsed.target <= MAX_RELAY_TARGET
    ? parsed.target
    : DEFAULT_RELAY_PREFS.target
  return { target, pinned: list(parsed.pinned), excluded: list(parsed.excluded), bootstrap: list(parsed.bootstrap) }
}

/** Checks a new value (a caller's mistake is INVALID_SETTING) and returns what to store. */
export function saveRelayPrefs (p: RelayPrefs): string {
  if (!Number.isInteger(p.target) || p.target < MIN_RELAY_TARGET || p.target > MAX_RELAY_TARGET) {
    throw new MessengerError('INVALID_SETTING', `Keep between ${MIN_RELAY_TARGET} and ${MAX_RELAY_TARGET} relays.`)
  }
  for (const l of [p.pinned, p.excluded, p.bootstrap]) {
    if (l.length > MAX_RELAY_PREF_ENTRIES) throw new MessengerError('INVALID_SETTING', `At most ${MAX_RELAY_PREF_ENTRIES} addresses per list.`)
    for (const a of l) {
      if (typeof a !== 'string' || !a.startsWith('/') || !a.includes('/p2p/') || Buffer.byteLength(a) > MAX_ADDRESS_BYTES) {
        throw new MessengerError('INVALID_SETTING', 'A relay or bootstrap address must be a multiaddr ending in /p2p/<peer id>.')
      }
    }
  }
  return JSON.stringify({ target: p.target, pinned: p.pinned, excluded: p.excluded, bootstrap: p.bootstrap })
}
