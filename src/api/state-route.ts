// GET /api/state: whether this node has an account, is locked or is ready. It lives apart from routes.ts because
// the server answers it before the routes are loaded: it is what `start` and `init` ask to learn whether a node
// already serves a data directory (a short probe), and what the web UI asks first. Loading the routes (zod and
// the schemas) for it would make that probe wait on an import (issue 10, device.idle_rss: the routes load lazily).
import type { DeviceHost } from '../messenger/types.ts'
import type { Reply } from './status.ts'

export const STATE_PATH = '/api/state'

export function stateReply (host: DeviceHost): Reply {
  return { status: 200, body: { state: host.state() } }
}
