// PLC operations for tests, signed with a rotation key the test holds: the way an account
// owner (or an attacker with a DID of their own) rewrites a DID document on the directory.
// Run by tests/support/plc.py with the node of pds/install.sh; prints one JSON line.
//   {"action": "keygen", "home": H}                      -> {"did": "did:key:…", "key": "<hex>"}
//   {"action": "aka", "home": H, "plc_url": U, "did": D, "key": K, "also_known_as": [...]}
//                                                        -> {"ok": true}
//   {"action": "endpoint", "home": H, "plc_url": U, "did": D, "key": K, "endpoint": E}
//                                                        -> {"ok": true} (the #atproto_pds service)
//   {"action": "signing", "home": H, "plc_url": U, "did": D, "key": K, "signing_key": "did:key:…"}
//                                                        -> {"ok": true} (the repository's #atproto key)
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const cfg = JSON.parse(process.argv[2] ?? '{}')
const load = (rel) => import(pathToFileURL(path.join(cfg.home, 'node_modules', rel)).href)

const main = async () => {
  const { Secp256k1Keypair } = await load('@atproto/crypto/dist/index.js')
  if (cfg.action === 'keygen') {
    const key = await Secp256k1Keypair.create({ exportable: true })
    const hex = Buffer.from(await key.export()).toString('hex')
    return { did: key.did(), key: hex }
  }
  if (cfg.action === 'aka') {
    const plc = await load('@did-plc/lib/dist/index.js')
    const Client = plc.Client ?? plc.default?.Client
    const signer = await Secp256k1Keypair.import(cfg.key)
    await new Client(cfg.plc_url).updateData(cfg.did, signer, (op) => ({ ...op, alsoKnownAs: cfg.also_known_as }))
    return { ok: true }
  }
  if (cfg.action === 'endpoint') {
    const plc = await load('@did-plc/lib/dist/index.js')
    const Client = plc.Client ?? plc.default?.Client
    const signer = await Secp256k1Keypair.import(cfg.key)
    await new Client(cfg.plc_url).updateData(cfg.did, signer, (op) => ({
      ...op,
      services: { ...op.services, atproto_pds: { type: 'AtprotoPersonalDataServer', endpoint: cfg.endpoint } },
    }))
    return { ok: true }
  }
  if (cfg.action === 'signing') {
    const plc = await load('@did-plc/lib/dist/index.js')
    const Client = plc.Client ?? plc.default?.Client
    const signer = await Secp256k1Keypair.import(cfg.key)
    await new Client(cfg.plc_url).updateData(cfg.did, signer, (op) => ({
      ...op,
      verificationMethods: { ...op.verificationMethods, atproto: cfg.signing_key },
    }))
    return { ok: true }
  }
  throw new Error(`unknown action ${cfg.action}`)
}

main().then(
  (out) => process.stdout.write(`${JSON.stringify(out)}\n`),
  (err) => {
    process.stderr.write(`plc_ops.mjs: ${err?.stack ?? err}\n`)
    process.exit(1)
  },
)
