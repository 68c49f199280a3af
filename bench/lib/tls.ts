// A self-signed certificate for 127.0.0.1, made at run time (ECDSA P-256 with WebCrypto, the X.509 encoding
// by @peculiar/x509, which @libp2p/webrtc uses for its own certificates). Only the centralized baseline's
// loopback WebSocket uses it: its clients trust exactly this certificate and verify it as usual.
// @peculiar/x509 needs the Reflect metadata polyfill loaded before it (through tsyringe).
import 'reflect-metadata'
import { webcrypto } from 'node:crypto'
import { BasicConstraintsExtension, SubjectAlternativeNameExtension, X509CertificateGenerator, cryptoProvider } from '@peculiar/x509'

export interface TlsIdentity { readonly key: string, readonly cert: string }

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const

function pem (label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').trimEnd()
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`
}

export async function selfSignedLoopback (): Promise<TlsIdentity> {
  cryptoProvider.set(webcrypto as unknown as Crypto)
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])
  const notBefore = new Date()
  notBefore.setMilliseconds(0)
  const notAfter = new Date(notBefore.getTime() + 86_400_000)
  const cert = await X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=127.0.0.1',
    notBefore,
    notAfter,
    signingAlgorithm: ALG,
    keys: keys as CryptoKeyPair,
    extensions: [
      new BasicConstraintsExtension(false, undefined, true),
      new SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }])
    ]
  })
  return { key: pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)), cert: cert.toString('pem') }
}
