"""What a Subsonic request costs, counted on the layer's clients (handlers in this process):
authentication cold and warm, album-list pages that cost the same at any offset when a client
pages forward, getAlbum on the album page's cache."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from albums_core import bootstrap
from albums_core.adapters import aws_clients as aws
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository
from albums_core.domain.models import Artist
from local_runtime.lambda_host import InProcessHost
from local_runtime.processes import MotoServer
from local_runtime.record_server import RecordServer
from local_runtime.template import ROOT, Stack
from tests.integration.factory import make_album, make_artist

EVENT = json.loads((ROOT / "events" / "subsonic_system_200_ping_without_credentials.json").read_text())
BROWSE, SYSTEM = "SubsonicBrowseFunction", "SubsonicSystemFunction"


class Calls:
    """DynamoDB and KMS calls by operation, while entered."""

    def __init__(self) -> None:
        self.dynamodb: Counter[str] = Counter()
        self.kms: Counter[str] = Counter()

    def _hook(self, counter: Counter[str]) -> Any:
        def count(model: Any, **_: Any) -> None:
            counter[model.name] += 1

        return count

    def __enter__(self) -> Calls:
        self.dynamodb.clear()
        self.kms.clear()
        self._hooks = [(aws.dynamodb(), self._hook(self.dynamodb)), (aws.client("kms"), self._hook(self.kms))]
        for client, hook in self._hooks:
            client.meta.events.register("before-call.*", hook)
        return self

    def __exit__(self, *_: object) -> None:
        for client, hook in self._hooks:
            client.meta.events.unregister("before-call.*", hook)

    @property
    def reads(self) -> int:
        return sum(n for op, n in self.dynamodb.items() if op in ("GetItem", "BatchGetItem", "Query"))


@pytest.fixture
def world(aws_env: None, moto: MotoServer, stack: Stack, pds: RecordServer) -> Iterator[tuple[Artist, str]]:
    repo = CatalogueRepository()
    artist = make_artist(repo, "aurora.test", pds_url=pds.url, display_name="Aurora Lane")
    for n in range(23):
        make_album(repo, artist, f"Album {n:02d}", tracks=1)
    yield artist, bootstrap.developer_tokens().create(artist.did, artist.handle, "bench")["token"]


def request(host: InProcessHost, function: str, method: str, **query: str) -> dict[str, Any]:
    event = json.loads(json.dumps(EVENT))
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/rest/{method}"
    event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in {**query, "f": "json"}.items())
    event["queryStringParameters"] = {**query, "f": "json"}
    out = host.invoke(function, event)
    assert out["statusCode"] == 200, out
    body: dict[str, Any] = json.loads(out["body"])["subsonic-response"]
    assert body["status"] == "ok", body
    return body


def warm_up(host: InProcessHost, token: str) -> None:
    """The browse function's authenticator knows the token (byYear answers with no call of its own)."""
    request(host, BROWSE, "getAlbumList2", apiKey=token, type="byYear")


def md5_query(token: str, user: str, salt: str) -> dict[str, str]:
    import hashlib

    return {"u": user, "t": hashlib.md5((token + salt).encode(), usedforsecurity=False).hexdigest(), "s": salt}


def test_authentication_cold_and_warm(world: tuple[Artist, str], moto: MotoServer, stack: Stack) -> None:
    artist, token = world
    for make in (
        lambda salt: md5_query(token, artist.handle, salt),
        lambda salt: md5_query(token, artist.did, salt),
        lambda _: {"u": artist.handle, "p": token},
        lambda _: {"apiKey": token},
    ):
        credentials = make("s1")
        host = InProcessHost(stack, moto.url)  # a cold container
        with Calls() as cold:
            request(host, SYSTEM, "ping", **credentials)
        assert cold.reads <= 2 and cold.kms["Decrypt"] <= 1 and sum(cold.kms.values()) <= 1, (credentials, cold)
        # the one write: the token's last use, at most once an hour per container
        assert set(cold.dynamodb) - {"GetItem", "UpdateItem"} == set() and cold.dynamodb["UpdateItem"] <= 1
        with Calls() as warm:
            request(host, SYSTEM, "ping", **make("s2"))
        assert not warm.dynamodb and not warm.kms, (credentials, warm)


def test_paging_forward_costs_the_same_at_every_offset(
    world: tuple[Artist, str], moto: MotoServer, stack: Stack
) -> None:
    _, token = world
    host = InProcessHost(stack, moto.url)
    warm_up(host, token)
    costs, names = [], []
    for offset in range(0, 25, 5):
        with Calls() as calls:
            page = request(
                host, BROWSE, "getAlbumList2", apiKey=token, type="alphabeticalByName", size="5", offset=str(offset)
            )
        costs.append(sum(calls.dynamodb.values()))
        names += [a["name"] for a in page["albumList2"].get("album", [])]
        assert "Scan" not in calls.dynamodb
    assert names == [f"Album {n:02d}" for n in range(23)]
    # the first page learns the artists; the last one ends the listing (no cursor to keep)
    assert max(costs) <= 3 and len(set(costs[1:4])) == 1 and costs[4] <= costs[1], costs
    # another container taking up where the first left off: the cursor kept in the cache table
    other = InProcessHost(stack, moto.url)
    warm_up(other, token)
    with Calls() as calls:
        page = request(other, BROWSE, "getAlbumList2", apiKey=token, type="alphabeticalByName", size="5", offset="10")
    assert page["albumList2"]["album"][0]["name"] == "Album 10"
    assert calls.reads <= 3 and "PutItem" not in calls.dynamodb, calls.dynamodb


def test_other_list_types_page_from_the_kept_order(world: tuple[Artist, str], moto: MotoServer, stack: Stack) -> None:
    _, token = world
    host = InProcessHost(stack, moto.url)
    request(host, BROWSE, "getAlbumList2", apiKey=token, type="newest", size="5")
    costs = []
    for offset in range(5, 25, 5):
        other = InProcessHost(stack, moto.url)  # cold: the order is read from the cache table
        with Calls() as calls:
            request(other, BROWSE, "getAlbumList2", apiKey=token, type="frequent", size="5", offset=str(offset))
            request(other, BROWSE, "getAlbumList2", apiKey=token, type="newest", size="5", offset=str(offset))
        costs.append(calls.reads)
    assert len(set(costs[1:])) == 1, costs


def test_get_album_on_a_cache_hit(world: tuple[Artist, str], moto: MotoServer, stack: Stack) -> None:
    artist, token = world
    album = CatalogueRepository().artist_albums(artist.did)[0]
    request(InProcessHost(stack, moto.url), BROWSE, "getAlbum", apiKey=token, id=f"al-{album.id}")  # cached now
    host = InProcessHost(stack, moto.url)
    warm_up(host, token)
    with Calls() as cold:
        request(host, BROWSE, "getAlbum", apiKey=token, id=f"al-{album.id}")
    with Calls() as warm:
        request(host, BROWSE, "getAlbum", apiKey=token, id=f"al-{album.id}")
    # the authentication's own calls are apart (the first test): here the token is known
    assert sum(cold.dynamodb.values()) <= 2, cold.dynamodb  # where the page is, then the page
    assert sum(warm.dynamodb.values()) == 1, warm.dynamodb  # the page's cache item only
