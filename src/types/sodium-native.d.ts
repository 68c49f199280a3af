// The parts of sodium-native 5 this project uses (the package ships no types; @types/sodium-native
// describes version 2). Add a declaration here before using another function.
declare module 'sodium-native' {
  const sodium: {
    crypto_pwhash_SALTBYTES: number
    crypto_pwhash_ALG_ARGON2ID13: number
    crypto_pwhash (out: Buffer, passwd: Buffer, salt: Buffer, opslimit: number, memlimit: number, alg: number): void
    randombytes_buf (buf: Buffer): void
    crypto_aead_xchacha20poly1305_ietf_ABYTES: number
    crypto_aead_xchacha20poly1305_ietf_KEYBYTES: number
    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES: number
    /** Returns the ciphertext length written to c. */
    crypto_aead_xchacha20poly1305_ietf_encrypt (c: Buffer, m: Buffer, ad: Buffer | null, nsec: null, npub: Buffer, k: Buffer): number
    /** Returns the plaintext length written to m; throws when the tag does not verify. */
    crypto_aead_xchacha20poly1305_ietf_decrypt (m: Buffer, nsec: null, c: Buffer, ad: Buffer | null, npub: Buffer, k: Buffer): number
    crypto_secretstream_xchacha20poly1305_STATEBYTES: number
    crypto_secretstream_xchacha20poly1305_ABYTES: number
    crypto_secretstream_xchacha20poly1305_HEADERBYTES: number
    crypto_secretstream_xchacha20poly1305_init_push (state: Buffer, header: Buffer, key: Buffer): void
    /** Returns the ciphertext length written to c. */
    crypto_secretstream_xchacha20poly1305_push (state: Buffer, c: Buffer, m: Buffer, ad: Buffer | null, tag: number): number
    crypto_secretstream_xchacha20poly1305_init_pull (state: Buffer, header: Buffer, key: Buffer): void
    /** Returns the plaintext length written to m; throws when the chunk does not verify. */
    crypto_secretstream_xchacha20poly1305_pull (state: Buffer, m: Buffer, tag: Buffer, c: Buffer, ad: Buffer | null): number
    sodium_is_zero (buf: Buffer, len?: number): boolean
    sodium_memzero (buf: Buffer): void
  }
  export default sodium
}
