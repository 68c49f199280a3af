// Issue 11: groups in the main area of the web UI — the open group's conversation (GroupConversation, with its
// member panel), or the new-group flow. The group chats themselves are listed in the chat list (GroupList); the
// state comes from useGroups, held by the app shell.
import type { Api, ContactView } from '../api.ts'
import { GroupConversation } from './GroupConversation.tsx'
import { NewGroup } from './NewGroup.tsx'
import type { Groups } from './useGroups.ts'

export function GroupsPanel ({ api, contacts, groups, disabledReason, onBack, onSafety, onError }: {
  api: Api, contacts: ContactView[], groups: Groups, disabledReason?: string | undefined
  onBack: () => void, onSafety: (contactId: string) => void, onError: (err: unknown) => void
}): React.JSX.Element {
  const current = groups.list.find((g) => g.id === groups.open)
  if (current === undefined) {
    return <NewGroup api={api} contacts={contacts} onDone={(g) => { groups.put(g); groups.setOpen(g.id) }} onCancel={onBack} onError={onError} />
  }
  return (
    <GroupConversation
      api={api} group={current} messages={groups.messages} contacts={contacts} disabledReason={disabledReason}
      onBack={onBack} onChanged={groups.put} onSafety={onSafety} onError={onError}
    />
  )
}
