// A group conversation (issue 11): its head (name, member count, the member panel's toggle), the messages with
// each sender's name and, for mine, the per-member delivery states, and the composer. `headExtra` and
// `composerExtra` are slots for more (a file button beside the composer, say).
// `void f()` in handlers: every such f catches its own errors and shows them (onError).
import { useLayoutEffect, useRef, useState } from 'react'
import type { Api, ContactView } from '../api.ts'
import { Composer } from '../screens/Composer.tsx'
import { AttachButton, FileAttachment } from '../screens/FileAttachment.tsx'
import { groupFileKey, useGroupFiles } from '../screens/useFiles.ts'
import { GroupMessageBubble } from './GroupMessageBubble.tsx'
import { MemberPanel } from './MemberPanel.tsx'
import { groupPath, type GroupMessage, type GroupView } from './types.ts'

export function GroupConversation ({ api, group, messages, contacts, disabledReason, onBack, onChanged, onSafety, onError, headExtra, composerExtra }: {
  api: Api, group: GroupView, messages: GroupMessage[], contacts: ContactView[], disabledReason?: string | undefined
  onBack: () => void, onChanged: (g: GroupView) => void, onSafety: (contactId: string) => void, onError: (err: unknown) => void
  headExtra?: React.ReactNode, composerExtra?: React.ReactNode
}): React.JSX.Element {
  const [showMembers, setShowMembers] = useState(false)
  const list = useRef<HTMLDivElement>(null)
  // New messages are followed (a group conversation opens at its end).
  useLayoutEffect(() => { const el = list.current; if (el !== null) el.scrollTop = el.scrollHeight }, [messages.length, group.id])
  const send = async (text: string): Promise<void> => { await api.call('POST', groupPath(group.id, '/messages'), { text }) }
  const cannotSend = disabledReason ?? (group.member ? undefined : 'You are no longer a member of this group.')
  // Issue 12 in groups: files announced in this group, by message id (images inline, others with a save button).
  const files = useGroupFiles(api, group.id, messages)
  return (
    <div className='group-layout'>
      <div className='conversation' data-testid='group-conversation' aria-label={`Group ${group.name}`} role='region'>
        <div className='conv-head'>
          <button type='button' className='back' data-testid='back' onClick={onBack} aria-label='Back to the chats'>←</button>
          <div className='who'>
            <h2 data-testid='group-conversation-name'><bdi>{group.name}</bdi></h2>
            <span className='muted'>{group.member ? `${group.members.length} members` : 'you left this group'}{group.admin && group.member ? ' · you are an admin' : ''}</span>
          </div>
          <button type='button' data-testid='open-members' aria-expanded={showMembers} aria-controls='group-member-panel' onClick={() => { setShowMembers((s) => !s) }}>
            {showMembers ? 'Hide members' : 'Members'}
          </button>
          {headExtra}
        </div>
        <div className='messages' data-testid='group-messages' ref={list} role='log' aria-label='Messages'>
          {messages.length === 0 && <p className='muted center'>No messages yet. Say hello to the group.</p>}
          {messages.map((m) => {
            const file = files.get(groupFileKey(m.id, m.direction === 'in' ? m.senderAccountId : undefined))
            return (
              <GroupMessageBubble
                key={`${m.direction}-${m.senderAccountId}-${m.id}`} m={m} members={group.members}
                attachment={file !== undefined ? <FileAttachment api={api} file={file} onError={onError} /> : undefined}
              />
            )
          })}
        </div>
        {composerExtra}
        <AttachButton api={api} contactId={group.id} disabled={cannotSend !== undefined} onError={onError} upload={async (f) => { await api.uploadGroupFile(group.id, f) }} />
        <Composer key={group.id} to={group.name} disabledReason={cannotSend} onSend={send} onError={onError} />
      </div>
      {showMembers && (
        <div id='group-member-panel'>
          <MemberPanel key={`${group.id}-${group.name}`} api={api} group={group} contacts={contacts} onChanged={onChanged} onSafety={onSafety} onError={onError} />
        </div>
      )}
    </div>
  )
}
