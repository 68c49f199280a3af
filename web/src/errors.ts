// Error sentences a person understands. The node's messages for refusals it decided (an invite that
// is expired, a setting that is not valid...) are written for people and shown as they are; codes
// whose messages are written for programs (a schema path, an HTTP status) get a plain sentence here.
import { ApiFailure, NODE_DOWN } from './api.ts'

const PLAIN: Readonly<Record<string, string>> = {
  [NODE_DOWN]: 'Your 0message1 node is not answering. Is it still running? This page reconnects by itself once it is.',
  BAD_REQUEST: 'Your node could not accept this: something in it is missing, too long or not valid.',
  BODY_TOO_LARGE: 'This is too large for your node to accept.',
  NOT_FOUND: 'That is not there any more (it may have been deleted); reload the page.',
  METHOD_NOT_ALLOWED: 'This page and your node do not match; reload the page.',
  FORBIDDEN_ORIGIN: 'Your node refused a request from another site.',
  BAD_HOST: 'Your node refused this address; open the address that `0message1 start` printed.',
  INTERNAL: 'Something went wrong inside your node; its log says more. Try again.',
  LOCKED: 'Your account is locked; unlock it first.',
  NO_ACCOUNT: 'There is no account on this node yet.'
}

export function explain (err: unknown): string {
  if (err instanceof ApiFailure) return PLAIN[err.code] ?? err.message
  // Anything else is a fault of this page, not something the person did.
  return 'Something went wrong on this page; reload it.'
}
