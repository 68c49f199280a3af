// The parts of @msimerson/stun 3 this project uses (the package ships no types). Add a declaration
// here before using another function.
declare module '@msimerson/stun' {
  interface StunMessage {
    readonly type: number
    readonly transactionId: Buffer
  }
  interface StunRequest extends StunMessage {
    addXorAddress (address: string, port: number): unknown
    addFingerprint (): unknown
    toBuffer (): Buffer
  }
  interface StunResponse extends StunMessage {
    getXorAddress (): { address: string, port: number, family: string } | undefined
  }
  const stun: {
    /** Throws on a packet that is not a well-formed STUN message (length, header, attributes). */
    decode (message: Buffer): StunResponse
    createMessage (type: number, transaction?: Buffer): StunRequest
    constants: {
      STUN_BINDING_REQUEST: number
      STUN_BINDING_RESPONSE: number
    }
  }
  export default stun
}
