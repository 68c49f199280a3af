// Issue 12: a file in a conversation. Images (PNG, JPEG, GIF, WebP, AVIF: never SVG) show inline once complete,
// from the node's decrypted bytes through a blob: URL; other files show name, size and type with a save button.
// While moving: a progress bar with bytes and speed, and the state (queued, uploading k%, on relay,
// downloading k%, delivered, failed with its reason). The name is the sender's: a text node in <bdi>.
import { useEffect, useState } from 'react'
import type { Api, FileView } from '../api.ts'

const PREVIEW = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif'])

export function size (n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`
  return `${(n / (1024 * 1024)).toFixed(1)} MB`
}

export function fileStateLabel (f: FileView): string {
  switch (f.state) {
    case 'queued': return f.failure ?? 'Queued'
    case 'uploading': return `Uploading ${f.percent}%${f.path === 'direct' ? ' (direct)' : ' (to relays)'}`
    case 'on-relay': return `On relay (${f.relayCopies} ${f.relayCopies === 1 ? 'copy' : 'copies'}); waiting for the contact`
    case 'downloading': return `Downloading ${f.percent}%${f.path === 'direct' ? ' (direct)' : ' (from a relay)'}`
    case 'delivered': return f.direction === 'out' ? `Delivered${f.path !== undefined ? ` (${f.path})` : ''}` : `Received${f.path !== undefined ? ` (${f.path})` : ''}`
    case 'failed': return `Failed: ${f.failure ?? 'unknown reason'}`
  }
}

/** The bytes are on this device: always for a file I sent, once verified for one I received. */
/** The node serves a received file once complete, and a sent one until delivered (its encrypted copy then goes,
 * except for previewable images, kept so the sender still sees its photo). */
function available (f: FileView): boolean {
  return f.direction === 'in' ? f.state === 'delivered' : PREVIEW.has(f.type) || f.state !== 'delivered'
}

export function FileAttachment ({ api, file, onError, actions }: { api: Api, file: FileView, onError: (e: unknown) => void, actions?: React.ReactNode }): React.JSX.Element {
  const [url, setUrl] = useState<string>()
  const image = PREVIEW.has(file.type)
  const ready = available(file)
  useEffect(() => {
    if (!image || !ready) return
    let revoked = false
    let made: string | undefined
    api.fileContent(file.messageId, file.contactId).then((blob) => {
      if (revoked) return
      made = URL.createObjectURL(blob)
      setUrl(made)
    }, onError)
    return () => { revoked = true; if (made !== undefined) URL.revokeObjectURL(made) }
  }, [api, file.messageId, file.contactId, image, ready, onError])

  const save = async (): Promise<void> => {
    try {
      const blob = await api.fileContent(file.messageId, file.contactId)
      const a = document.createElement('a')
      a.href = URL.createObjectURL(blob)
      a.download = file.name
      a.click()
      setTimeout(() => { URL.revokeObjectURL(a.href) }, 10_000)
    } catch (err) { onError(err) }
  }

  const moving = file.state === 'uploading' || file.state === 'downloading' || file.state === 'queued'
  return (
    <div className={`file ${file.direction}`} data-testid='file' data-state={file.state} data-name={file.name}>
      {url !== undefined && <img className='file-image' data-testid='file-image' src={url} alt={file.name} />}
      <div className='file-meta'>
        <bdi className='file-name'>{file.name}</bdi>
        <span className='muted'> · {size(file.size)} · {file.type}</span>
      </div>
      {moving && (
        <div className='file-progress'>
          <progress data-testid='file-progress' max={100} value={file.percent} aria-label={`${file.name}: ${file.percent}%`} />
          <span className='muted'>{size(file.bytes)} of {size(file.size)}{file.speed > 0 ? ` · ${size(file.speed)}/s` : ''}</span>
        </div>
      )}
      <div className={file.state === 'failed' ? 'file-state error' : 'file-state muted'} data-testid='file-state'>{fileStateLabel(file)}</div>
      {ready && !image && <button type='button' data-testid='file-save' onClick={() => { void save() }}>Save</button>}
      {actions !== undefined && <div className='meta'>{actions}</div>}
    </div>
  )
}

/** Attach a file: picks one and uploads it to the node, which encrypts and sends it. */
/** `upload`: where the file goes instead of the contact (a group's composer, issue 12 in groups). */
export function AttachButton ({ api, contactId, disabled, onError, upload }: { api: Api, contactId: string, disabled: boolean, onError: (e: unknown) => void, upload?: (f: File) => Promise<void> }): React.JSX.Element {
  const [busy, setBusy] = useState(false)
  const pick = async (input: HTMLInputElement): Promise<void> => {
    const f = input.files?.[0]
    if (f === undefined) return
    setBusy(true)
    try { await (upload ?? (async (x: File) => { await api.uploadFile(contactId, x) }))(f) } catch (err) { onError(err) } finally { setBusy(false); input.value = '' }
  }
  return (
    <label className='attach'>
      <span>{busy ? 'Sending…' : 'Attach a file'}</span>
      <input type='file' data-testid='file-input' aria-label='Attach a file' disabled={disabled || busy} onChange={(e) => { void pick(e.currentTarget) }} />
    </label>
  )
}
