// The QR form of an invite: the link's bytes as `0M1:` + base32, so that QR's alphanumeric mode can
// hold a ~3 KB invite (see src/api/invite-text.ts, which turns it back into a link).
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

function base64urlDecode (text: string): Uint8Array {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/')
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4))
  return Uint8Array.from(bin, (c) => c.charCodeAt(0))
}

function base32Encode (bytes: Uint8Array): string {
  let out = ''
  let bits = 0
  let value = 0
  for (const b of bytes) {
    value = ((value << 8) | b) & 0xffff
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += ALPHABET[(value >>> bits) & 31]
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31]
  return out
}

export function inviteQrText (link: string): string {
  if (!link.startsWith('0m1:')) return link
  return '0M1:' + base32Encode(base64urlDecode(link.slice(4)))
}
