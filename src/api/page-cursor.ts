// The paging cursor of GET /api/contacts/:id/messages (beforeId + beforeDirection, src/api/openapi.ts), shared by the
// CLI and the web page (no Node here). A page is the newest messages in the node's page order (HistoryStore.messages):
// by key, min(sentAt, arrival), newest first, then incoming before outgoing, then seq, sentAt and id, each descending.
// The next older page starts just past the page's last message in that order: the least by (key, outgoing before
// incoming, seq, sentAt, id). That is the first message shown only while each sender's keys rise with its seq.

/** The most messages one GET of a contact's conversation returns (its `limit`; the store itself would give up to
 * history-store.ts MAX_PAGE); here, not in schemas.ts, so the CLI reads it without loading zod at start
 * (test/api/lazy-start.test.ts). */
export const MAX_API_PAGE = 500

/** The message fields the order reads (a MessageView). */
export interface PagedMessage {
  readonly id: string
  readonly direction: 'in' | 'out'
  readonly seq: number
  readonly at: number
  readonly sentAt?: number
}

/** The API's form of the messenger's PageCursor (types.ts): the query's beforeId and beforeDirection. */
export interface BeforeCursor {
  readonly beforeId: string
  readonly beforeDirection: 'in' | 'out'
}

/** Where the page before `page` starts; undefined for an empty page. */
export function olderPageCursor (page: readonly PagedMessage[]): BeforeCursor | undefined {
  const sent = (m: PagedMessage): number => m.sentAt ?? m.at
  const order = (m: PagedMessage): number[] => [Math.min(sent(m), m.at), m.direction === 'in' ? 1 : 0, m.seq, sent(m)]
  let least: PagedMessage | undefined
  for (const m of page) {
    if (least === undefined) { least = m; continue }
    const a = order(m)
    const b = order(least)
    const i = a.findIndex((x, k) => x !== b[k])
    if (i === -1 ? m.id < least.id : (a[i] as number) < (b[i] as number)) least = m
  }
  return least === undefined ? undefined : { beforeId: least.id, beforeDirection: least.direction }
}

/** The query string of the page before `cursor` (beforeId and beforeDirection go together). */
export const cursorQuery = (c: BeforeCursor): string => `beforeId=${c.beforeId}&beforeDirection=${c.beforeDirection}`
