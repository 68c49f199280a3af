// Device hosts in child processes (bench/children/person.ts), one per person, as real devices run.
import { join } from 'node:path'
import type { BenchContext } from '../harness.ts'
import { startChild } from './child.ts'
import { binLaunch } from '../../test/helpers/launch.ts'

export interface RemotePerson {
  readonly name: string
  /** Sends `{ type, ...payload }` and resolves with the child's answer of the same type. */
  ask: <T = Record<string, unknown>>(type: string, payload?: Record<string, unknown>, timeoutMs?: number) => Promise<T>
  /** Stops the host and ends the process. */
  exit: () => Promise<void>
}

export async function remotePerson (ctx: BenchContext, name: string, o: { relays: string[], relayOnly?: boolean }): Promise<RemotePerson> {
  const dir = join(ctx.tmpDir(`person-${name}`), 'data')
  // A device runs as the bin starts it (its launch settings, which could change its speed).
  const launch = binLaunch()
  const child = startChild(ctx, 'person.ts', [JSON.stringify({ name, dir, relays: o.relays, ...(o.relayOnly === true ? { relayOnly: true } : {}) })], launch.execArgv, launch.env)
  await child.next('ready', 60_000)
  // One question at a time per child: answers are matched by type.
  let chain: Promise<unknown> = Promise.resolve()
  return {
    name,
    ask: async <T>(type: string, payload: Record<string, unknown> = {}, timeoutMs = 120_000): Promise<T> => {
      const p = chain.then(async () => {
        child.send({ type, ...payload })
        return await child.next<T>(type, timeoutMs)
      })
      chain = p.catch(() => {})
      return await p
    },
    exit: async () => {
      if (child.proc.exitCode !== null || child.proc.signalCode !== null) return
      const exited = new Promise<void>((resolve) => { child.proc.once('exit', () => { resolve() }) })
      child.send({ type: 'exit' })
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 15_000).unref())])
    }
  }
}

/** `a` invites, `b` accepts; resolves when both know each other, with each one's contact id for the other. */
export async function introduceRemote (a: RemotePerson, b: RemotePerson): Promise<{ aToB: string, bToA: string }> {
  const { link } = await a.ask<{ link: string }>('invite')
  const { contactId: bToA } = await b.ask<{ contactId: string }>('accept', { link, name: a.name })
  const { contactId: aToB } = await a.ask<{ contactId: string }>('contact', { name: b.name })
  return { aToB, bToA }
}
