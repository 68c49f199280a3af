// The QR form of an invite. A link (`0m1:` + base64url, ~3.2 KB with its PQXDH prekey bundle) is
// too long for a QR code in byte mode (2,953 bytes at most); the same bytes as `0M1:` + RFC 4648
// base32 use QR's alphanumeric mode (4,296 characters at most) and fit. The API accepts both forms.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
export const QR_INVITE_PREFIX = '0M1:'
export const LINK_PREFIX = '0m1:'
/** Far above any invite (MAX_INVITE_BYTES in base32 is under 14,300 characters); bounds the work on
 * pasted junk. The longest text the API takes as an invite, in either form. */
export const MAX_QR_INVITE_CHARS = 16_384

export function base32Decode (text: string): Uint8Array | undefined {
  const out = new Uint8Array(Math.floor((text.length * 5) / 8))
  let bits = 0
  let value = 0
  let j = 0
  for (const ch of text) {
    const v = ALPHABET.indexOf(ch)
    if (v === -1) return undefined
    value = (value << 5) | v
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out[j++] = (value >>> bits) & 0xff
    }
  }
  // Canonical encodings only: leftover bits must be zero padding.
  if ((value & ((1 << bits) - 1)) !== 0) return undefined
  return out
}

export function base32Encode (bytes: Uint8Array): string {
  let out = ''
  let bits = 0
  let value = 0
  for (const b of bytes) {
    value = ((value << 8) | b) & 0xffff
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += ALPHABET.charAt((value >>> bits) & 31)
    }
  }
  if (bits > 0) out += ALPHABET.charAt((value << (5 - bits)) & 31)
  return out
}

/** Turns the QR form back into a link; anything else is returned unchanged for the messenger to judge. */
export function normalizeInviteText (text: string): string {
  const t = text.trim()
  if (!t.startsWith(QR_INVITE_PREFIX) || t.length > MAX_QR_INVITE_CHARS) return t
  const bytes = base32Decode(t.slice(QR_INVITE_PREFIX.length))
  if (bytes === undefined) return t
  return LINK_PREFIX + Buffer.from(bytes).toString('base64url')
}

/** The QR form of a link (`0M1:` + base32 of its bytes), so QR's alphanumeric mode can hold it. */
export function inviteQrText (link: string): string {
  if (!link.startsWith(LINK_PREFIX)) return link
  return QR_INVITE_PREFIX + base32Encode(Buffer.from(link.slice(LINK_PREFIX.length), 'base64url'))
}
