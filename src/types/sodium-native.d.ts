// The parts of sodium-native 5 this project uses (the package ships no types; @types/sodium-native
// describes version 2). Add a declaration here before using another function.
declare module 'sodium-native' {
  const sodium: {
    crypto_pwhash_SALTBYTES: number
    crypto_pwhash_ALG_ARGON2ID13: number
    crypto_pwhash (out: Buffer, passwd: Buffer, salt: Buffer, opslimit: number, memlimit: number, alg: number): void
    randombytes_buf (buf: Buffer): void
    sodium_memzero (buf: Buffer): void
  }
  export default sodium
}
