// Raw HTTP calls for API tests: node:http lets a test set Host and Origin, which fetch forbids.
import { request } from 'node:http'

export interface RawReply { status: number, headers: Record<string, string | string[] | undefined>, text: string, json: () => unknown }

export async function call (baseUrl: string, method: string, path: string, o: {
  token?: string, body?: unknown, rawBody?: string, headers?: Record<string, string>, timeoutMs?: number
} = {}): Promise<RawReply> {
  const url = new URL(path, baseUrl)
  const headers: Record<string, string> = { ...o.headers }
  if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`
  let data: string | undefined
  if (o.body !== undefined) { data = JSON.stringify(o.body); headers['content-type'] ??= 'application/json' }
  if (o.rawBody !== undefined) data = o.rawBody
  return await new Promise<RawReply>((resolve, reject) => {
    const req = request(url, { method, headers, timeout: o.timeoutMs ?? 10_000 }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: (): unknown => JSON.parse(text) })
      })
      res.on('error', reject)
    })
    req.on('timeout', () => { req.destroy(new Error(`${method} ${path} timed out`)) })
    req.on('error', reject)
    req.end(data)
  })
}
