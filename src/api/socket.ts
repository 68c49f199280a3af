// The CLI's way into the running node: a Unix domain socket, `api.sock`, in the data directory. Only
// the directory's owner can reach it (directory 0700, socket 0600) and only the node can have made
// it, so the CLI knows whom it sends the token to; a TCP port named by a stale api.json proves nothing.
import type { Server } from 'node:http'
import { chmodSync, existsSync, lstatSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { PRIVATE_FILE_MODE, isShared } from '../platform/private-files.ts'
import { ApiError } from './errors.ts'

export const API_SOCKET_FILE = 'api.sock'
/** sun_path holds 104 bytes on macOS and 108 on Linux, with the final NUL: the smaller bound rules. */
export const MAX_SOCKET_PATH_BYTES = 103

export function socketPathOf (dataDir: string): string {
  return join(dataDir, API_SOCKET_FILE)
}

export function socketPathFits (path: string): boolean {
  return Buffer.byteLength(path) <= MAX_SOCKET_PATH_BYTES
}

/** True when something accepts connections on the socket `path`. */
async function answers (path: string): Promise<boolean> {
  return await new Promise((resolve) => {
    const s = connect(path)
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => { resolve(false) })
  })
}

/** Removes a socket file a crashed node left at `path`; a live node's socket is never taken over
 * (CONFLICT). Called before anything of the directory (its token) is touched. */
export async function claimSocketPath (path: string): Promise<void> {
  if (existsSync(path) && lstatSync(path).isSocket()) {
    if (await answers(path)) throw new ApiError('CONFLICT', 0, `Another node already serves this data directory (${path}); stop it first.`)
    rmSync(path, { force: true })
  }
}

/** Listens on `path` (claimed first) and makes it 0600; libuv removes the file when the server closes. */
export async function listenOnSocket (server: Server, path: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => { server.off('error', reject); resolve() })
  })
  chmodSync(path, PRIVATE_FILE_MODE)
}

/** Before the CLI sends the token: the socket must be a socket of this user in a private directory;
 * otherwise someone else could have put it there. Throws NOT_RUNNING when there is none. */
export function checkSocket (dataDir: string): string {
  const path = socketPathOf(dataDir)
  if (!socketPathFits(path)) {
    throw new ApiError('SOCKET_UNSAFE', 0, `The data directory path ${dataDir} is too long for the node's API socket (at most ${MAX_SOCKET_PATH_BYTES} bytes with /${API_SOCKET_FILE}); use a shorter --data path.`)
  }
  let st
  try {
    st = lstatSync(path)
  } catch {
    throw new ApiError('NOT_RUNNING', 0, `No node is running for ${dataDir}; start it with \`0message1 start --data ${dataDir}\`.`)
  }
  const uid = process.getuid?.()
  if (!st.isSocket() || (uid !== undefined && st.uid !== uid) || isShared(dataDir)) {
    throw new ApiError('SOCKET_UNSAFE', 0, `The API socket ${path} is not a private socket of yours, so the token is not sent to it; stop whatever made it, delete it and start the node again.`)
  }
  return path
}
