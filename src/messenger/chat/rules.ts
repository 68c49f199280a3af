// Issue 13 chat rules, one definition each: how long a message may be edited, how much of a quoted
// message a reply carries, how a search is bounded.
import { MAX_QUOTE_BYTES } from '../../wire/payload.ts'

/** A message may be edited this long after it was sent, by its sender; later edits are refused on both
 * sides (the contact's device checks the sender's own times: the original's sentAt and the edit's). */
export const EDIT_WINDOW_MS = 15 * 60_000
/** A quote is the start of the quoted message: enough to recognise it, in characters (then cut to bytes). */
export const QUOTE_CHARS = 100
/** A search query: longer ones are not a person looking for a message. */
export const MAX_SEARCH_QUERY_CHARS = 200
/** Hits returned by one search (newest first): a screen's worth, the rest is found by a narrower query. */
export const MAX_SEARCH_RESULTS = 50
/** Terms in one query: FTS5 cost grows with each; a person types a few words. */
export const MAX_SEARCH_TERMS = 8

/** Made at the first reply, not at load: a grapheme segmenter loads ICU's break rules (~2.7 MB resident, most of
 * it in an idle device that never quotes; device.idle_rss, issue 10). */
let graphemes: Intl.Segmenter | undefined

/** The excerpt of a message a reply carries: its first QUOTE_CHARS characters, within MAX_QUOTE_BYTES. */
export function quoteOf (text: string): string {
  graphemes ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' })
  // By grapheme, so an emoji or an accented letter is never cut in two.
  const parts = Array.from(graphemes.segment(text.replace(/\s+/g, ' ').trim()), (s) => s.segment).slice(0, QUOTE_CHARS)
  while (Buffer.byteLength(parts.join(''), 'utf8') > MAX_QUOTE_BYTES) parts.pop()
  return parts.join('')
}

/**
 * A user's words as an FTS5 query: each word a quoted prefix term (so FTS5 syntax in the words is only
 * text), all required. Undefined when no word is left.
 */
export function ftsQuery (query: string): string | undefined {
  const words = query.normalize('NFKC').split(/[\s"]+/u).map((w) => w.replace(/[^\p{L}\p{N}_'-]/gu, '')).filter((w) => w.length > 0)
  if (words.length === 0) return undefined
  return words.slice(0, MAX_SEARCH_TERMS).map((w) => `"${w}"*`).join(' ')
}
