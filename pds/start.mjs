// Starts a real ATProto PDS + PLC directory (@atproto/dev-env TestNetworkNoAppView) on
// 127.0.0.1, creates the requested accounts, prints ONE JSON line on stdout and runs until
// SIGTERM/SIGINT, then closes the network, removes its data and exits 0.
//
//   "$CACHE/node/bin/node" pds/start.mjs '{"accounts": [{"handle": "alice.test", "password": "pw"}]}'
//
// $CACHE is the directory printed by pds/install.sh. The config (argv[2], else the env var
// ALBUMS_PDS_CONFIG, else none) is a JSON object:
//   accounts  [{handle, password, email?}]  handles must end in .test (email defaults to
//             <handle>@example.com); may also be given as the top-level JSON array
//   exit_with_parent  if true, shut down (as on SIGTERM) once the parent process is gone
//   home      the install directory holding node_modules (default: env ALBUMS_PDS_HOME, else
//             the directory the running node binary was installed into by install.sh)
// Output line: {"pds_url": "http://127.0.0.1:P", "plc_url": "http://127.0.0.1:Q",
//               "accounts": [{"handle", "did", "password", "email"}]}
// Everything else (logs, errors) goes to stderr. Set LOG_ENABLED=true for PDS logs (to stderr).
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const fail = (msg) => {
  process.stderr.write(`start.mjs: ${msg}\n`)
  process.exit(1)
}

// stdout carries exactly one line: keep anything else off it.
const writeStdout = process.stdout.write.bind(process.stdout)
console.log = console.error
console.info = console.error
if (/^(true|t|1)$/i.test(process.env.LOG_ENABLED ?? '') && !process.env.LOG_DESTINATION) {
  process.env.LOG_DESTINATION = '/dev/stderr'
}

const parseConfig = () => {
  const raw = process.argv[2] ?? process.env.ALBUMS_PDS_CONFIG ?? '{}'
  let cfg
  try {
    cfg = JSON.parse(raw)
  } catch (err) {
    fail(`config is not JSON: ${err.message}`)
  }
  if (Array.isArray(cfg)) cfg = { accounts: cfg }
  if (cfg === null || typeof cfg !== 'object') fail('config must be a JSON object or array')
  const accounts = cfg.accounts ?? []
  if (!Array.isArray(accounts)) fail('"accounts" must be a list')
  for (const a of accounts) {
    if (!a || typeof a.handle !== 'string' || typeof a.password !== 'string') {
      fail(`each account needs a string handle and password: ${JSON.stringify(a)}`)
    }
  }
  return { ...cfg, accounts }
}

// The install directory: the one holding node_modules/@atproto/dev-env.
const findHome = (cfg) => {
  const candidates = [
    cfg.home,
    process.env.ALBUMS_PDS_HOME,
    path.resolve(path.dirname(process.execPath), '..', '..'), // <home>/node/bin/node
    path.dirname(new URL(import.meta.url).pathname),
  ].filter(Boolean)
  for (const dir of candidates) {
    if (fs.existsSync(path.join(dir, 'node_modules', '@atproto', 'dev-env', 'package.json'))) return dir
  }
  fail(`no node_modules/@atproto/dev-env in ${candidates.join(', ')}: run pds/install.sh`)
}

// PDS and PLC call `app.listen(port)`, which binds every interface: bind loopback only.
const LOOPBACK = '127.0.0.1'
const origListen = http.Server.prototype.listen
http.Server.prototype.listen = function listen(...args) {
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    if (typeof args[1] !== 'string') args.splice(1, 0, LOOPBACK)
  } else if (args[0] && typeof args[0] === 'object' && args[0].path === undefined && !args[0].host) {
    args[0] = { ...args[0], host: LOOPBACK }
  }
  return origListen.apply(this, args)
}

const xrpc = async (base, nsid, body) => {
  const res = await fetch(`${base}/xrpc/${nsid}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`${nsid} -> ${res.status} ${text}`)
  return JSON.parse(text)
}

const main = async () => {
  const cfg = parseConfig()
  const home = findHome(cfg)
  const major = Number(process.versions.node.split('.')[0])
  if (major < 22) fail(`needs Node >= 22, running ${process.version}: use ${home}/node/bin/node`)

  // Only the no-AppView network module: the package root also loads AppView and Ozone.
  const modPath = path.join(home, 'node_modules', '@atproto', 'dev-env', 'dist', 'network-no-appview.js')
  const { TestNetworkNoAppView } = await import(pathToFileURL(modPath).href)

  const dataRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'albums-pds-'))
  const dataDirectory = path.join(dataRoot, 'data')
  const blobstoreDiskLocation = path.join(dataRoot, 'blobs')
  fs.mkdirSync(dataDirectory)
  fs.mkdirSync(blobstoreDiskLocation)
  const removeData = () => fs.rmSync(dataRoot, { recursive: true, force: true })
  // dev-env makes a data and a blob folder of its own in the temp dir even when given these, and
  // never removes them: make them inside dataRoot. (Its port-lock folder stays in the shared temp
  // dir, so PDSs started side by side still claim distinct ports: it was named at import above.)
  process.env.TMPDIR = dataRoot

  let network
  let closing = false
  const shutdown = async (signal) => {
    if (closing) {
      process.stderr.write(`start.mjs: ${signal} again, exiting now\n`)
      removeData()
      process.exit(1)
    }
    closing = true
    const timer = setTimeout(() => {
      process.stderr.write('start.mjs: close() took over 10 s, exiting\n')
      removeData()
      process.exit(1)
    }, 10_000)
    timer.unref()
    let code = 0
    try {
      if (network) await network.close()
    } catch (err) {
      process.stderr.write(`start.mjs: error while closing: ${err?.stack ?? err}\n`)
      code = 1
    }
    removeData()
    process.exit(code)
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
  if (cfg.exit_with_parent) {
    const parent = process.ppid
    setInterval(() => {
      if (process.ppid !== parent) void shutdown('parent exit')
    }, 1000).unref()
  }

  try {
    // No port given: dev-env picks free ones (port 0 would make the PDS advertise the wrong one).
    network = await TestNetworkNoAppView.create({
      pds: { dataDirectory, blobstoreDiskLocation },
    })
    const pdsUrl = `http://${LOOPBACK}:${network.pds.port}`
    const plcUrl = `http://${LOOPBACK}:${network.plc.port}`
    const accounts = []
    for (const a of cfg.accounts) {
      const email = a.email ?? `${a.handle.replace(/[^A-Za-z0-9]/g, '-')}@example.com`
      const res = await xrpc(pdsUrl, 'com.atproto.server.createAccount', {
        handle: a.handle,
        email,
        password: a.password,
      })
      accounts.push({ handle: res.handle, did: res.did, password: a.password, email })
    }
    if (closing) return
    writeStdout(`${JSON.stringify({ pds_url: pdsUrl, plc_url: plcUrl, accounts })}\n`)
  } catch (err) {
    process.stderr.write(`start.mjs: start-up failed: ${err?.stack ?? err}\n`)
    try {
      if (network) await network.close()
    } finally {
      removeData()
      process.exit(1)
    }
  }
}

main().catch((err) => fail(err?.stack ?? String(err)))
