// The relay choice (issue 16) in the local API: GET shows the relays the device keeps, their health and the
// user's choices; PATCH changes how many to keep, which are pinned or excluded, and extra bootstrap peers.
import { z } from 'zod'
import type { DeviceHost } from '../messenger/types.ts'
import { MAX_RELAY_TARGET, MIN_RELAY_TARGET, type RelayKeeperView, type RelayPrefs } from '../messenger/relay-keeper.ts'
import { MAX_RELAY_PREF_ENTRIES } from '../messenger/relay-prefs.ts'
import { ApiError } from './errors.ts'
import { describeIssues, MultiaddrSchema } from './schemas.ts'
import type { Reply } from './status.ts'

/** What the host offers for this (the daemon's host does; test doubles may not). */
export interface RelayChoiceHost {
  relayKeeper?: () => RelayKeeperView | undefined
  updateRelayPrefs?: (patch: Partial<RelayPrefs>) => Promise<RelayKeeperView | undefined>
}

const AddressList = z.array(MultiaddrSchema.refine((s) => s.includes('/p2p/'), 'must end in /p2p/<peer id>')).max(MAX_RELAY_PREF_ENTRIES)
export const RelayChoicePatchBody = z.strictObject({
  target: z.number().int().min(MIN_RELAY_TARGET).max(MAX_RELAY_TARGET).optional(),
  pinned: AddressList.optional(),
  excluded: AddressList.optional(),
  bootstrap: AddressList.optional()
})

type RouteFn = (method: string, path: string, handle: (ctx: { body: () => Promise<unknown> }) => Promise<Reply>) => void

export function relayChoiceRoutes (host: DeviceHost & RelayChoiceHost, route: RouteFn, ready: () => unknown): void {
  const view = (): RelayKeeperView => {
    ready()
    const v = host.relayKeeper?.()
    if (v === undefined) throw new ApiError('NOT_FOUND', 404, 'This node does not choose relays by itself (the relay keeper is off).')
    return v
  }
  route('GET', '/api/relays/choice', async () => ({ status: 200, body: view() }))
  route('PATCH', '/api/relays/choice', async (ctx) => {
    view()
    const parsed = RelayChoicePatchBody.safeParse(await ctx.body())
    if (!parsed.success) throw new ApiError('BAD_REQUEST', 400, describeIssues(parsed.error))
    const patch: { -readonly [K in keyof RelayPrefs]?: RelayPrefs[K] } = {}
    if (parsed.data.target !== undefined) patch.target = parsed.data.target
    if (parsed.data.pinned !== undefined) patch.pinned = parsed.data.pinned
    if (parsed.data.excluded !== undefined) patch.excluded = parsed.data.excluded
    if (parsed.data.bootstrap !== undefined) patch.bootstrap = parsed.data.bootstrap
    const updated = await host.updateRelayPrefs?.(patch)
    return { status: 200, body: updated ?? view() }
  })
}
