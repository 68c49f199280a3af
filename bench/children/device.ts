// An idle device host (createDeviceHost on a prepared data directory) alone in this process.
// Messages: -> { type: 'measure' } <- { type: 'memory', rss, heapUsed, external, contacts }.
import { createDeviceHost } from '../../src/messenger/host.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { settledMemory } from '../lib/child.ts'

const send = (m: unknown): void => { process.send?.(m) }
const [dataDir, relay] = process.argv.slice(2)
if (dataDir === undefined) throw new Error('usage: device.ts <dataDir> [relay]')
createDeviceHost({ dataDir, logger: silentLogger, ...(relay !== undefined ? { relays: [relay] } : {}) }).then(async (host) => {
  const m = host.messenger()
  if (m === undefined) throw new Error('the data directory has no account')
  const contacts = (await m.contacts()).length
  send({ type: 'ready', contacts })
  process.on('message', (msg: { type?: string }) => {
    if (msg.type === 'measure') {
      settledMemory().then((mem) => { send({ type: 'memory', ...mem, contacts }) }, (err: unknown) => { send({ type: 'error', message: String(err) }) })
    } else if (msg.type === 'exit') {
      // Exits whatever stop() does; nothing is left to handle a rejection.
      void host.stop().finally(() => process.exit(0))
    }
  })
}).catch((err: unknown) => { send({ type: 'error', message: String(err) }) })
