"""Two Subsonic clients we did not write browse and play an album of the demo catalogue through
the local runtime as `make run` starts it: py-sonic (PyPI) and subsonic-api (npm, in Node)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import urllib.parse
from pathlib import Path
from typing import Any

import libsonic

from local_runtime.seed import SILENT_MP3
from tests.e2e.conftest import Api

CLIENT = Path(__file__).parent / "subsonic_client"


def _token(api: Api) -> tuple[str, str]:
    handle = api.state["accounts"][0]["handle"]
    reply = api.send("POST", "/auth/developer-tokens", {"name": "e2e"}, session=api.login(handle))
    assert reply.status == 201, reply.body
    return handle, str(reply.json()["token"])


def _node_client() -> Path:
    """The npm client installed (once per lockfile) in a cache outside the repository."""
    files = [CLIENT / "package.json", CLIENT / "package-lock.json", CLIENT / "browse.mjs"]
    key = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "albums-subsonic-client" / key
    if not (cache / "node_modules" / "subsonic-api").is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copy(f, cache / f.name)
        npm = ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
        subprocess.run(npm, cwd=cache, check=True, timeout=300)
    shutil.copy(CLIENT / "browse.mjs", cache / "browse.mjs")
    return cache


def _album_page(api: Api, handle: str, album_id: str) -> dict[str, Any]:
    albums = api.get(f"/albums/{handle}").json()["albums"]
    slug = next(a["slug"] for a in albums if a["id"] == album_id)
    return dict(api.get(f"/albums/{handle}/{slug}").json())


def test_py_sonic_browses_and_plays_a_demo_album(api: Api) -> None:
    handle, token = _token(api)
    parts = urllib.parse.urlsplit(api.url)
    client = libsonic.Connection(
        f"http://{parts.hostname}", handle, token, port=parts.port, serverPath=f"{parts.path}/rest", appName="e2e"
    )
    assert client.ping() is True
    albums = client.getAlbumList2("alphabeticalByName", size=500)["albumList2"]["album"]
    # an album whose list record orders its tracks otherwise than they were made
    pages = [
        _album_page(api, acc["handle"], a["id"])
        for acc in api.state["accounts"]
        for a in api.get(f"/albums/{acc['handle']}").json()["albums"]
    ]
    page = next(p for p in pages if p["tracks"] != sorted(p["tracks"], key=lambda t: t["created_at"]))
    album_id = f"al-{page['metadata']['id']}"
    assert album_id in [a["id"] for a in albums]
    album = client.getAlbum(album_id)["album"]
    assert [s["id"] for s in album["song"]] == [f"tr-{t['id']}" for t in page["tracks"]]
    song = album["song"][0]
    assert client.stream(song["id"]).read() == SILENT_MP3
    before = client.getSong(song["id"])["song"].get("playCount", 0)
    assert client.scrobble(song["id"])
    assert client.getSong(song["id"])["song"].get("playCount", 0) == before + 1


def test_the_npm_client_browses_and_plays_a_demo_album(api: Api) -> None:
    handle, token = _token(api)
    cache = _node_client()
    run = subprocess.run(
        ["node", "browse.mjs", api.url, handle, token],  # noqa: S607 - node from PATH
        cwd=cache,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["ping"] == seen["pingPost"] == seen["pingApiKey"] == "ok"
    assert "apiKeyAuthentication" in seen["extensions"]
    names = [a["name"] for a in seen["albums"]]
    assert names and names == sorted(names, key=str.lower)
    assert seen["paged"] == [a["id"] for a in seen["albums"]]
    first = seen["albums"][0]
    owner = next(
        acc["handle"]
        for acc in api.state["accounts"]
        if any(a["id"] == first["id"][3:] for a in api.get(f"/albums/{acc['handle']}").json()["albums"])
    )
    page = _album_page(api, owner, first["id"][3:])
    assert [s["id"] for s in seen["album"]["songs"]] == [f"tr-{t['id']}" for t in page["tracks"]]
    assert seen["cover"]["status"] == 200 and seen["cover"]["redirected"] is True
    assert seen["stream"] == {"status": 200, "type": "audio/mpeg", "bytes": len(SILENT_MP3)}
    assert seen["scrobble"]["status"] == "ok" and seen["scrobble"]["after"] == seen["scrobble"]["before"] + 1
    assert seen["wrong"] == 40
