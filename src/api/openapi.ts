// The OpenAPI 3.1 description of the local API, served at /api/openapi.json. Request bodies are
// generated from the same zod schemas the server validates with, so the two cannot drift.
import { z } from 'zod'
import { RelayChoicePatchBody } from './relay-routes.ts'
import {
  AddContactBody, CreateAccountBody, CreateInviteBody, KeyChangeDecisionBody, RelayBody, RenameContactBody, SendMessageBody,
  SettingsPatchBody, UnlockBody, VerifyBody, MAX_API_PAGE
} from './schemas.ts'
import { chatOperations, chatPaths, chatSchemas } from './chat-routes.ts'

import { FILE_SCHEMAS, fileOpenApiPaths } from './file-routes.ts'

import { groupPaths, groupSchemas } from './group-routes.ts'

type Json = Record<string, unknown>

function bodySchema (schema: z.ZodType): Json {
  const s = z.toJSONSchema(schema, { io: 'input' }) as Json
  delete s.$schema
  return s
}

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` })
const jsonContent = (schema: Json): Json => ({ 'application/json': { schema } })
const ok = (description: string, schema: Json): Json => ({ description, content: jsonContent(schema) })
const errors = (...codes: number[]): Json => Object.fromEntries(codes.map((c) => [String(c), { $ref: `#/components/responses/E${c}` }]))
const body = (schema: z.ZodType): Json => ({ required: true, content: jsonContent(bodySchema(schema)) })
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,128}$' }, description: 'Local contact id' }

const messageStates = ['queued', 'sent', 'stored', 'delivered', 'read', 'failed']

const schemas: Record<string, Json> = {
  Error: {
    type: 'object',
    required: ['error'],
    properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string', description: 'One sentence for a person.' } } } }
  },
  HostState: { type: 'string', enum: ['no-account', 'locked', 'ready'] },
  Settings: {
    type: 'object',
    required: ['relayOnly', 'lanDiscovery', 'relays', 'fetchIsolation'],
    properties: {
      relayOnly: { type: 'boolean', description: 'All traffic through relays: contacts never learn this device\'s IP address.' },
      lanDiscovery: { type: 'boolean', description: 'mDNS discovery of contacts on the local network.' },
      relays: { type: 'array', items: { type: 'string', description: 'multiaddr' } },
      fetchIsolation: { type: 'string', enum: ['device', 'contact'], description: 'Mailbox fetches: one short-lived identity and connection per relay for all mailboxes (device), or a separate one per mailbox so a relay cannot link them by peer id (contact; costs a libp2p node and a connection per mailbox and relay).' }
    }
  },
  Relay: {
    type: 'object',
    required: ['address', 'state', 'reservation'],
    properties: { address: { type: 'string' }, state: { type: 'string', enum: ['connected', 'connecting', 'unreachable'] }, reservation: { type: 'boolean' } }
  },
  Status: {
    type: 'object',
    required: ['accountId', 'name', 'peerId', 'addresses', 'relays', 'nat', 'outbox', 'connections', 'links', 'settings'],
    properties: {
      accountId: { type: 'string' },
      name: { type: 'string' },
      peerId: { type: 'string' },
      addresses: { type: 'array', items: { type: 'string' } },
      relays: { type: 'array', items: ref('Relay') },
      nat: { type: 'string', enum: ['public', 'private', 'unknown'] },
      outbox: { type: 'integer', description: 'Messages waiting for a delivery receipt.' },
      connections: { type: 'integer' },
      links: {
        type: 'object',
        description: 'Contacts connected now, by kind of link; hole-punched links are direct.',
        required: ['direct', 'holePunched', 'relayed'],
        properties: { direct: { type: 'integer' }, holePunched: { type: 'integer' }, relayed: { type: 'integer' } }
      },
      settings: ref('Settings')
    }
  },
  Invite: {
    type: 'object',
    required: ['link', 'qr', 'expiresAt'],
    properties: {
      link: { type: 'string', description: 'One line: 0m1: followed by base64url.' },
      qr: { type: 'string', description: 'The same invite as 0M1: followed by base32, for a QR code in alphanumeric mode.' },
      expiresAt: { type: 'integer', description: 'ms since epoch' }
    }
  },
  Contact: {
    type: 'object',
    required: ['id', 'name', 'accountId', 'verified', 'unread', 'rev'],
    properties: {
      id: { type: 'string' },
      name: { type: 'string' },
      accountId: { type: 'string' },
      metThroughGroup: { type: 'string', description: 'Group id: a member known only through that group (session from its group card), not a contact from an invite' },
      verified: { type: 'boolean' },
      unread: { type: 'integer' },
      rev: { type: 'integer', description: 'Orders the views of this contact during one run of the node: of two views (an event, an answer), the one with the higher rev is the newer; keep it.' },
      lastMessage: { type: 'object', required: ['text', 'at', 'direction'], properties: { text: { type: 'string' }, at: { type: 'integer' }, direction: { type: 'string', enum: ['out', 'in'] } } },
      blocked: { type: 'boolean', description: 'Blocked: nothing from them is stored, shown or receipted.' },
      link: { type: 'string', enum: ['direct', 'hole-punched', 'relayed'], description: 'The connection to the contact now (hole-punched: direct, through a NAT, set up via a relay); absent: not connected, messages go to the mailbox.' },
      keyChange: ref('KeyChange')
    }
  },
  KeyChange: {
    type: 'object',
    description: "Present once the contact's identity key changed (the newest change). The chat shows \"<name>'s safety number changed\" at `at`. While pending, messages under the new key are held; nothing changes until the user compares the new safety number and accepts or blocks it.",
    required: ['at', 'state', 'held'],
    properties: {
      at: { type: 'integer', description: 'ms since epoch: the first message under the new key' },
      state: { type: 'string', enum: ['pending', 'accepted', 'blocked'], description: 'accepted: the new key is pinned (not verified); blocked: its messages are dropped without warnings' },
      held: { type: 'integer', description: 'Messages held under the new key' },
      decidedAt: { type: 'integer' }
    }
  },
  PendingSafetyNumber: {
    type: 'object',
    description: 'The safety number with the contact\'s new, pending identity key: compare it with the number on their device before accepting.',
    required: ['contactId', 'digits', 'scannable', 'at', 'held'],
    properties: { contactId: { type: 'string' }, digits: { type: 'string' }, scannable: { type: 'string' }, at: { type: 'integer' }, held: { type: 'integer' } }
  },
  Message: {
    type: 'object',
    required: ['id', 'contactId', 'direction', 'text', 'seq', 'at', 'state'],
    properties: {
      id: { type: 'string' },
      contactId: { type: 'string' },
      direction: { type: 'string', enum: ['out', 'in'] },
      text: { type: 'string', description: 'Plain text; clients must never render it as HTML.' },
      seq: { type: 'integer' },
      at: { type: 'integer' },
      sentAt: { type: 'integer', description: 'Incoming: when its sender wrote it (ms since epoch, the sender\'s clock). Each sender\'s messages go by seq, the two interleaved by sentAt (in) and at (out).' },
      state: { type: 'string', enum: messageStates },
      failure: { type: 'string' },
      path: { type: 'string', enum: ['direct', 'relayed', 'mailbox'] },
      gapBefore: { type: 'integer' },
      replyTo: { type: 'object', required: ['id', 'quote'], properties: { id: { type: 'string' }, quote: { type: 'string' } }, description: 'A reply: the quoted message and the excerpt its sender sealed.' },
      editedAt: { type: 'integer', description: 'Edited by its sender at (ms since epoch, the sender\'s clock).' },
      deleted: { type: 'boolean', description: 'Deleted for everyone by its sender: show "deleted".' }
    }
  },
  SafetyNumber: {
    type: 'object',
    required: ['contactId', 'digits', 'scannable', 'verified'],
    properties: { contactId: { type: 'string' }, digits: { type: 'string' }, scannable: { type: 'string' }, verified: { type: 'boolean' } }
  },
  Event: {
    description: 'One JSON text frame per event on /api/events.',
    oneOf: [
      { type: 'object', required: ['type', 'message'], properties: { type: { enum: ['message', 'message-state'] }, message: ref('Message') } },
      { type: 'object', required: ['type', 'contact'], properties: { type: { const: 'contact' }, contact: ref('Contact') } },
      { type: 'object', required: ['type', 'status'], properties: { type: { const: 'status' }, status: ref('Status') } },
      { type: 'object', required: ['type', 'text'], properties: { type: { const: 'warning' }, contactId: { type: 'string' }, text: { type: 'string' }, groupId: { type: 'string' }, reason: { type: 'string', description: 'Groups: not-admin, unknown-group, other-group, second-create, replayed (by a non-admin), bad-signature, malformed, not-member, not-asked, superseded, held-expired, held-over-limit' } } },
      { type: 'object', required: ['type', 'state'], properties: { type: { const: 'host-state' }, state: ref('HostState') } },
      { type: 'object', required: ['type', 'contactId', 'id', 'direction'], properties: { type: { const: 'message-removed' }, contactId: { type: 'string' }, id: { type: 'string' }, direction: { type: 'string', enum: ['in', 'out'] } } },
      { type: 'object', required: ['type', 'contactId', 'rev'], properties: { type: { const: 'contact-removed' }, contactId: { type: 'string' }, rev: { type: 'integer', description: 'Ordered with contact views\' rev: a view of this contact with a lower rev was built before the removal.' } } },
      { type: 'object', required: ['type', 'file'], properties: { type: { const: 'file' }, file: ref('File') } },
      // Issue 11: groups.
      { type: 'object', required: ['type', 'group'], properties: { type: { const: 'group' }, group: ref('Group') } },
      { type: 'object', required: ['type', 'message'], properties: { type: { enum: ['group-message', 'group-message-state'] }, message: ref('GroupMessage') } },
    ]
  },
  ...FILE_SCHEMAS
}

const errorResponses: Record<string, Json> = Object.fromEntries([
  [400, 'The body or a parameter is not valid.'],
  [401, 'The token is missing or wrong.'],
  [403, 'Foreign Origin, or a wrong passphrase; for groups, an action only admins or members may take (NOT_ADMIN, NOT_MEMBER).'],
  [404, 'No such contact or relay.'],
  [409, 'No account yet, or one already exists; or (KEY_CHANGE_MOVED) the pending safety number is not the one named: a newer key replaced it; or (AMBIGUOUS_MEMBER) a group member named by a name two members share; or (AMBIGUOUS_FILE) a file named by a message id two senders used, without its owner.'],
  [422, 'The messenger refused (bad invite, expired invite, ...); the message says why.'],
  [423, 'The account is locked.']
].map(([code, description]) => [`E${String(code)}`, { description, content: jsonContent(ref('Error')) }]))

export function openApiDocument (): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: '0message1 local API',
      version: '1.0.0',
      description: 'The API of one device node, for its own web UI and CLI. Listens on 127.0.0.1. Every /api request needs the token of this start of the node (file api.token, new at every start) as `Authorization: Bearer <token>`; requests with a foreign Origin are refused. Live events: WebSocket /api/events with subprotocols `0m1-events` and `0m1-token.<token>` (the only place the token is read from on a WebSocket), one Event JSON per frame.'
    },
    servers: [{ url: '/' }],
    security: [{ token: [] }],
    components: {
      securitySchemes: { token: { type: 'http', scheme: 'bearer' } },
      schemas: { ...schemas, ...chatSchemas, ...groupSchemas },
      responses: errorResponses
    },
    paths: {
      '/api/state': { get: { summary: 'Host state: no-account, locked or ready', responses: { 200: ok('State', { type: 'object', properties: { state: ref('HostState') } }), ...errors(401) } } },
      '/api/account': { post: { summary: 'Create the one account of this device', requestBody: body(CreateAccountBody), responses: { 201: ok('Created', { type: 'object', properties: { state: ref('HostState'), status: ref('Status') } }), ...errors(400, 401, 409) } } },
      '/api/unlock': { post: { summary: 'Unlock a passphrase-protected account', requestBody: body(UnlockBody), responses: { 200: ok('Unlocked', { type: 'object', properties: { state: ref('HostState'), status: ref('Status') } }), ...errors(400, 401, 403, 409) } } },
      '/api/status': { get: { summary: 'Peer id, addresses, relays, NAT, queue sizes, settings', responses: { 200: ok('Status', ref('Status')), ...errors(401, 409, 423) } } },
      '/api/invites': { post: { summary: 'Make an invite link (the pending one again while it has a day to live, unless fresh)', requestBody: body(CreateInviteBody), responses: { 201: ok('Invite', ref('Invite')), ...errors(400, 401, 409, 423) } }, ...chatOperations['/api/invites'] },
      '/api/contacts': {
        get: { summary: 'Contacts with unread counts and last message', responses: { 200: ok('Contacts', { type: 'array', items: ref('Contact') }), ...errors(401, 409, 423) } },
        post: { summary: 'Add a contact from an invite link', requestBody: body(AddContactBody), responses: { 201: ok('Contact', ref('Contact')), ...errors(400, 401, 409, 422, 423) } }
      },
      '/api/contacts/{id}': { patch: { summary: 'Rename a contact (local name)', parameters: [idParam], requestBody: body(RenameContactBody), responses: { 200: ok('Contact', ref('Contact')), ...errors(400, 401, 404) } }, ...chatOperations['/api/contacts/{id}'] },
      '/api/contacts/{id}/messages': {
        get: {
          summary: 'Messages of a conversation, oldest first',
          parameters: [idParam, { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: MAX_API_PAGE } }, { name: 'before', in: 'query', schema: { type: 'integer', minimum: 0 }, description: 'ms since epoch: only messages whose interleave key, min(sentAt, arrival), is below it (by key alone, messages sharing the boundary key are left out: page with beforeId)' },
            { name: 'beforeId', in: 'query', schema: { type: 'string', pattern: '^[0-9a-f]{32}$' }, description: 'Paging cursor, with beforeDirection: only messages past this one in the page order (newest key, then incoming before outgoing, then seq, sentAt, id). Pass the previous page\'s last in that order, the least by (key, outgoing before incoming, seq, sentAt, id): the page\'s first shown message only while each sender\'s keys rise with its seq (a clock that went back, or a message overtaken by a later one of the same sender, breaks that: each page is still in display order, but their concatenation can differ from one larger page); any other message repeats some. 404 if the message is not in the conversation any more (deleted since): fetch the newest page again' },
            { name: 'beforeDirection', in: 'query', schema: { type: 'string', enum: ['in', 'out'] }, description: 'Direction of the beforeId message (ids are their sender\'s)' }],
          responses: { 200: ok('Messages', { type: 'array', items: ref('Message') }), ...errors(400, 401, 404) }
        },
        post: { summary: 'Send a text message', parameters: [idParam], requestBody: body(SendMessageBody), responses: { 201: ok('Queued message', ref('Message')), ...errors(400, 401, 404) } }
      },
      '/api/contacts/{id}/read': { post: { summary: 'Mark the conversation read (sends read receipts)', parameters: [idParam], responses: { 204: { description: 'Done' }, ...errors(401, 404) } } },
      '/api/contacts/{id}/safety-number': { get: { summary: 'Safety number to compare with the contact', parameters: [idParam], responses: { 200: ok('Safety number', ref('SafetyNumber')), ...errors(401, 404) } } },
      '/api/contacts/{id}/key-change': { get: { summary: 'The new safety number of a contact whose identity key changed (404 NO_KEY_CHANGE when none is pending)', parameters: [idParam], responses: { 200: ok('Pending safety number', ref('PendingSafetyNumber')), ...errors(401, 404) } } },
      '/api/contacts/{id}/key-change/accept': { post: { summary: 'Accept the new identity key whose safety number the body names (the digits GET key-change returned): pinned, not verified; the held messages open. 409 KEY_CHANGE_MOVED, and nothing changes, when a newer key replaced it: compare the new number', parameters: [idParam], requestBody: body(KeyChangeDecisionBody), responses: { 200: ok('Contact', ref('Contact')), ...errors(400, 401, 404, 409, 422) } } },
      '/api/contacts/{id}/key-change/block': { post: { summary: 'Block the new identity key whose safety number the body names: held messages dropped, later ones too, without warnings. 409 KEY_CHANGE_MOVED, and nothing changes, when a newer key replaced it', parameters: [idParam], requestBody: body(KeyChangeDecisionBody), responses: { 200: ok('Contact', ref('Contact')), ...errors(400, 401, 404, 409) } } },
      '/api/contacts/{id}/verified': { put: { summary: 'Mark the contact verified or not', parameters: [idParam], requestBody: body(VerifyBody), responses: { 200: ok('Safety number', ref('SafetyNumber')), ...errors(400, 401, 404) } } },
      '/api/settings': {
        get: { summary: 'Settings', responses: { 200: ok('Settings', ref('Settings')), ...errors(401) } },
        patch: { summary: 'Change settings', requestBody: body(SettingsPatchBody), responses: { 200: ok('Settings', ref('Settings')), ...errors(400, 401) } }
      },
      '/api/settings/relays': {
        post: { summary: 'Add a relay', requestBody: body(RelayBody), responses: { 200: ok('Settings', ref('Settings')), ...errors(400, 401) } },
        delete: { summary: 'Remove a relay', parameters: [{ name: 'address', in: 'query', required: true, schema: { type: 'string' } }], responses: { 200: ok('Settings', ref('Settings')), ...errors(400, 401, 404) } }
      },
      ...fileOpenApiPaths({ idParam, body, ok, ref, errors }),
      '/api/relays/choice': {
        get: { summary: 'Relays this device keeps by itself (issue 16): health, round trip, operator, and the user\'s choices', responses: { 200: { description: 'RelayKeeperView (src/messenger/relay-keeper.ts)' }, ...errors(401, 404) } },
        patch: { summary: 'How many relays to keep (1-8), pinned, excluded, bootstrap peers', requestBody: body(RelayChoicePatchBody), responses: { 200: { description: 'RelayKeeperView' }, ...errors(400, 401, 404) } }
      },
      '/api/openapi.json': { get: { summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1' } } } },
      '/api/events': { get: { summary: 'WebSocket of Event frames (see components.schemas.Event)', responses: { 101: { description: 'Switching protocols' }, ...errors(401, 403) } } },
      ...chatPaths,
      ...groupPaths()
    }
  }
}
