"""The real handlers (functions/*/app.py) invoked as Lambda would, with the events/ files,
against moto; and the DynamoDB calls each read makes."""

import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from albums_core.adapters import aws_clients as aws
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository
from albums_core.adapters.dynamodb.page_cache import invalidate_album_cache
from albums_core.adapters.dynamodb.session_lookup import session_key
from local_runtime.lambda_host import InProcessHost, LambdaHost
from local_runtime.processes import MotoServer
from local_runtime.record_server import Fault, RecordServer
from local_runtime.template import Stack, local_stack
from tests.integration.factory import like, make_album, make_artist, publish_list
from tests.support.api_events import EVENTS, api_event

FUNCTION_OF = {fn.code_uri.name: logical for logical, fn in local_stack().functions().items()}
# Events that need the local PDS (a login, a live session) are exercised through `invoke` (tests/e2e).
STANDALONE_EVENTS = sorted(
    p.stem
    for p in EVENTS.glob("*.json")
    if "DEMO_" not in p.read_text() and not p.stem.startswith("auth_login_") and '"routeKey"' in p.read_text()
)


def _catalogue(pds: RecordServer) -> None:
    """The albums the events/ files name (list records on the record server)."""
    repo = CatalogueRepository()
    aurora = make_artist(repo, "aurora.test", pds_url=pds.url, display_name="Aurora Lane")
    for title, n in (("Café del Mar Sessions", 3), ("Northern Lights", 2)):
        album, tracks = make_album(repo, aurora, title, tracks=n)
        publish_list(pds.store, album, [t.record_uri or "" for t in reversed(tracks)])
    make_album(repo, make_artist(repo, "kenji.test", pds_url=pds.url), "Tokyo", tracks=1)


@pytest.fixture(scope="module")
def warm_host(moto: MotoServer, stack: Stack) -> Iterator[LambdaHost]:
    """The functions in their Lambda-like workers, kept warm across this module's tests as Lambda
    keeps a container: each test pays no cold start, and warm reuse is exercised too."""
    with LambdaHost(stack, moto.url) as lambda_host:
        yield lambda_host


@pytest.fixture
def host(aws_env: None, warm_host: LambdaHost, pds: RecordServer) -> LambdaHost:
    """The warm functions, and the albums the events/ files name."""
    _catalogue(pds)
    return warm_host


@pytest.fixture
def in_process(aws_env: None, moto: MotoServer, stack: Stack, pds: RecordServer) -> InProcessHost:
    """The handlers imported into this process: for tests that count or patch what they call."""
    lambda_host = InProcessHost(stack, moto.url)
    _catalogue(pds)
    return lambda_host


@pytest.fixture
def calls() -> Iterator[Counter]:
    counter: Counter = Counter()

    def count(model: Any, **_: Any) -> None:
        counter[model.name] += 1

    client = aws.dynamodb()
    client.meta.events.register("before-call.dynamodb", count)
    yield counter
    client.meta.events.unregister("before-call.dynamodb", count)


def invoke(host: LambdaHost | InProcessHost, name: str, event: dict[str, Any] | None = None) -> tuple[int, Any]:
    if event is None:
        event = api_event(name)
    function = FUNCTION_OF[max((k for k in FUNCTION_OF if name == k or name.startswith(k + "_")), key=len)]
    out = host.invoke(function, event)
    return out["statusCode"], json.loads(out["body"]) if out.get("body") else None


@pytest.mark.parametrize("path", STANDALONE_EVENTS)
def test_every_event_file_gives_its_status(host: LambdaHost, path: str) -> None:
    expected = (
        int(path.split("_")[-1])
        if path.split("_")[-1].isdigit()
        else int(next(part for part in path.split("_") if part.isdigit()))
    )
    status, body = invoke(host, path)
    assert status == expected, body
    if status >= 400:
        assert set(body) == {"detail"} and isinstance(body["detail"], str)


def test_list_albums_pages_through_the_handler(host: LambdaHost) -> None:
    status, first = invoke(host, "list_albums", api_event("list_albums_200", query="limit=2"))
    assert status == 200 and len(first["albums"]) == 2 and first["next_cursor"]
    status, second = invoke(
        host, "list_albums", api_event("list_albums_200", query=f"limit=2&cursor={first['next_cursor']}")
    )
    assert status == 200 and second["next_cursor"] is None
    assert len(second["albums"]) == 1


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "limit=-1", "limit=1.5"])
def test_bad_limits_are_422_naming_the_field(host: LambdaHost, query: str) -> None:
    status, body = invoke(host, "list_albums", api_event("list_albums_200", query=query))
    assert status == 422 and "limit" in body["detail"]


def test_boundary_limits(host: LambdaHost) -> None:
    assert invoke(host, "list_albums", api_event("list_albums_200", query="limit=1"))[0] == 200
    assert invoke(host, "list_albums", api_event("list_albums_200", query="limit=100"))[0] == 200


def test_session_cookie_or_bearer_personalises_get_album(host: LambdaHost, repo: CatalogueRepository) -> None:
    session_id = "s" * 32
    repo.client.put_item(
        TableName=aws_env_table("SESSIONS_TABLE"),
        Item={
            "session_key": {"S": session_key(session_id)},
            "did": {"S": "did:plc:fan"},
            "handle": {"S": "fan.test"},
            "expires_at": {"N": str(int(time.time()) + 600)},
        },
    )
    _, page = invoke(host, "get_album_200")
    like(repo, "did:plc:fan", page["tracks"][0]["id"])
    _, liked = invoke(host, "get_album", api_event("get_album_200", session=session_id))
    assert [t["is_liked"] for t in liked["tracks"]][:1] == [True]
    event = api_event("get_album_200", headers={"authorization": f"Bearer {session_id}"})
    _, liked = invoke(host, "get_album", event)
    assert liked["tracks"][0]["is_liked"] is True


def test_an_expired_session_is_anonymous(host: LambdaHost, repo: CatalogueRepository) -> None:
    session_id = "e" * 32
    repo.client.put_item(
        TableName=aws_env_table("SESSIONS_TABLE"),
        Item={
            "session_key": {"S": session_key(session_id)},
            "did": {"S": "did:plc:fan"},
            "expires_at": {"N": str(int(time.time()) - 1)},
        },
    )
    status, page = invoke(host, "get_album", api_event("get_album_200", session=session_id))
    assert status == 200 and not any(t["is_liked"] for t in page["tracks"])


def test_a_sync_whose_pds_fails_is_502_and_a_non_artist_gets_403(host: LambdaHost, pds: RecordServer) -> None:
    from albums_core.adapters.atproto.xrpc import Tokens
    from albums_core.adapters.dynamodb.session_store import create_session

    repo = CatalogueRepository()
    aurora = repo.get_artist_by_handle("aurora.test")
    assert aurora is not None and aurora.pds_url
    artist = create_session(aurora.did, aurora.handle, aurora.pds_url, Tokens("access", "refresh"))
    pds.store.fault = Fault(status=500)
    status, body = invoke(host, "sync_artist", api_event("sync_artist_200", session=artist.session_id))
    assert status == 502 and "PDS" in body["detail"] and "Traceback" not in json.dumps(body)
    listener = create_session("did:plc:listener", "listener.test", pds.url, Tokens("access", "refresh"))
    status, body = invoke(host, "sync_artist", api_event("sync_artist_200", session=listener.session_id))
    assert status == 403, body


def aws_env_table(name: str) -> str:
    import os

    return os.environ[name]


def test_dynamodb_calls_per_read(in_process: InProcessHost, calls: Counter) -> None:
    invalidate_album_cache("aurora.test", "cafe-del-mar-sessions")
    calls.clear()
    invoke(in_process, "get_album_200")
    assert sum(calls.values()) <= 4 and "Scan" not in calls, calls
    calls.clear()
    invoke(in_process, "get_album_200")
    assert dict(calls) == {"GetItem": 1}
    calls.clear()
    invoke(in_process, "list_albums_200")
    assert sum(calls.values()) == 2 and "Scan" not in calls, calls
    calls.clear()
    invoke(in_process, "list_artist_albums_200")
    assert sum(calls.values()) == 2 and "Scan" not in calls, calls


def test_dynamodb_calls_of_an_artist_profile(in_process: InProcessHost, calls: Counter) -> None:
    # The fixture's artists predate artist times: the first read backfills them, once.
    status, first = invoke(in_process, "get_artist_200")
    assert status == 200 and first["handle"] == "aurora.test" and first["display_name"] == "Aurora Lane"
    assert first["created_at"] and first["updated_at"], first
    calls.clear()
    status, again = invoke(in_process, "get_artist_200")
    assert status == 200 and again == first and dict(calls) == {"GetItem": 1}
    by_did = api_event("get_artist_404_did", path=f"/artists/{first['did']}", path_parameters={"did": first["did"]})
    calls.clear()
    status, profile = invoke(in_process, "get_artist", by_did)
    # A miss: the cache, the artist item, its handle pointer; the page cached.
    assert status == 200 and profile == first and dict(calls) == {"GetItem": 3, "PutItem": 1}, calls
    calls.clear()
    invoke(in_process, "get_artist", by_did)
    assert dict(calls) == {"GetItem": 1}


def test_no_stack_trace_or_exception_text_in_error_bodies(
    in_process: InProcessHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    from albums_core.adapters.dynamodb.catalogue import CatalogueRepository

    def boom(*_: Any, **__: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(CatalogueRepository, "listed_albums_page", boom)
    status, body = invoke(in_process, "list_albums_200")
    assert status == 500 and body == {"detail": "internal error"}


# Run by a fresh interpreter of the dev venv, where the ATProto SDK and Pillow are installed:
# importing them by accident would succeed there, so their absence from sys.modules means
# the read functions' code never asked for them.
READ_PATH_PROBE = """
import importlib.util, json, sys, uuid

args = json.load(sys.stdin)
missing = [m for m in ("atproto", "atproto_oauth", "PIL") if importlib.util.find_spec(m) is None]
assert not missing, f"not importable here, so the check would prove nothing: {missing}"
sys.path.insert(0, args["layer"])


class Context:
    function_name = "read-path"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:read-path"
    aws_request_id = str(uuid.uuid4())


statuses = {}
for name, (code, event) in args["calls"].items():
    spec = importlib.util.spec_from_file_location("fn_" + name, code)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    statuses[name] = module.lambda_handler(event, Context())["statusCode"]
# The SDK's packages, its codec (libipld) and DNS library, its validators loaded on their own,
# the OAuth client, Pillow.
SDK = ("atproto", "atproto_client", "atproto_core", "atproto_crypto", "atproto_identity", "atproto_oauth")
SDK += ("libipld", "dns", "PIL")
loaded = sorted(m for m in sys.modules if m.split(".")[0] in SDK or m.endswith("_sdk_string_formats"))
print(json.dumps({"statuses": statuses, "loaded": loaded}))
"""


def test_neither_the_atproto_sdk_nor_pillow_is_imported_on_the_read_path(
    aws_env: None, moto: MotoServer, stack: Stack, pds: RecordServer
) -> None:
    import subprocess
    import sys

    from local_runtime.lambda_host import LAYER_PATH, local_environment

    _catalogue(pds)
    functions = stack.functions()
    env = {"PATH": "/usr/bin:/bin", **local_environment(stack, moto.url)}
    calls = {}
    for name in ("list_albums_200", "list_artist_albums_200", "get_album_200", "get_artist_200"):
        fn = functions[FUNCTION_OF[name.removesuffix("_200")]]
        env.update(fn.environment)
        calls[name] = (str(fn.code_uri / "app.py"), api_event(name))
    out = subprocess.run(
        [sys.executable, "-c", READ_PATH_PROBE],
        input=json.dumps({"layer": str(LAYER_PATH), "calls": calls}),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["statuses"] == {
        "list_albums_200": 200,
        "list_artist_albums_200": 200,
        "get_album_200": 200,
        "get_artist_200": 200,
    }
    assert report["loaded"] == []


@pytest.fixture
def demo_values(alice: Any) -> dict[str, str]:
    from tests.integration.write_fixtures import PASSWORDS

    _, album = alice.admin().create("Café del Mar Sessions")
    return {
        "DEMO_HANDLE": "alice.test",
        "DEMO_PASSWORD": PASSWORDS["alice.test"],
        "DEMO_SESSION": alice.caller.session.session_id,
        "DEMO_ALBUM_ID": album["id"],
    }


@pytest.mark.parametrize("name", sorted({p.stem for p in EVENTS.glob("*.json")} - set(STANDALONE_EVENTS)))
def test_events_that_need_the_local_pds(
    name: str, demo_values: dict[str, str], moto: MotoServer, local_pds: Any
) -> None:
    from local_runtime.__main__ import fill_placeholders

    # The relay is a closed loopback port: the consumer's schedule event is judged by its answer
    # (tests/integration/test_firehose.py consumes the local PDS's stream for real).
    stack = local_stack(
        overrides={
            "PlcUrl": local_pds.plc_url,
            "HandleResolverUrl": local_pds.pds_url,
            "RelayUrl": "ws://127.0.0.1:9",
        }
    )
    event = json.loads(fill_placeholders((EVENTS / f"{name}.json").read_text(), demo_values))
    function = FUNCTION_OF[max((k for k in FUNCTION_OF if name.startswith(k + "_")), key=len)]
    with LambdaHost(stack, moto.url) as lambda_host:
        result = lambda_host.invoke(function, event)
    if "Records" in event and event["Records"][0].get("eventSource") == "aws:s3":
        # an S3 trigger: an upload that is not (or no longer) there
        assert result == {"processed": {next(iter(result["processed"])): "gone"}}
        return
    if "Records" in event:  # the catalogue stream: every record handled (idempotent)
        assert result == {"batchItemFailures": []}
        return
    if event.get("detail-type") == "Scheduled Event" and function == "ConsumeFirehoseFunction":
        assert result["status"] == "relay unreachable" and result["batches"] == 0, result
        return
    if event.get("detail-type") == "Scheduled Event":
        assert set(result) >= {"covers_deleted", "uploads_deleted", "cache_items_deleted"}
        return
    status, body = result["statusCode"], json.loads(result["body"])
    expected = int(next(part for part in name.split("_") if part.isdigit()))
    assert status == expected, body
