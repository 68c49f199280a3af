// Safety numbers: libsignal's Fingerprint over both identity keys, the same 60 digits on both sides.
import { Fingerprint, PublicKey } from '@signalapp/libsignal-client'
import { ACCOUNT_ID_HASH_BYTES, identityHash } from './account-id.ts'

/** Signal's values: 5200 hash iterations, fingerprint version 2. */
export const FINGERPRINT_ITERATIONS = 5200
export const FINGERPRINT_VERSION = 2

/** Digits in a safety number (libsignal's displayable fingerprint: 12 groups of 5). */
export const SAFETY_NUMBER_DIGITS = 60

export interface SafetyNumber {
  /** SAFETY_NUMBER_DIGITS digits, no separators. */
  readonly digits: string
  /** libsignal scannable fingerprint, base64 (what a QR code would carry). */
  readonly scannable: string
}

export function safetyNumber (localIdentityKey: Uint8Array, remoteIdentityKey: Uint8Array): SafetyNumber {
  // The identifiers are the account-id hashes: stable, and bound to the keys they go with.
  const fp = Fingerprint.new(
    FINGERPRINT_ITERATIONS, FINGERPRINT_VERSION,
    new Uint8Array(identityHash(localIdentityKey).subarray(0, ACCOUNT_ID_HASH_BYTES)), PublicKey.deserialize(localIdentityKey as Uint8Array<ArrayBuffer>),
    new Uint8Array(identityHash(remoteIdentityKey).subarray(0, ACCOUNT_ID_HASH_BYTES)), PublicKey.deserialize(remoteIdentityKey as Uint8Array<ArrayBuffer>)
  )
  return {
    digits: fp.displayableFingerprint().toString(),
    scannable: Buffer.from(fp.scannableFingerprint().toBuffer()).toString('base64')
  }
}
