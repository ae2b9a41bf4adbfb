"""POST /artists/me/sync: index the caller's fm.plyr records from their PDS."""

from typing import Any

from albums_core import auth
from albums_core.album_admin import pds_errors
from albums_core.api_models import SESSION, SyncResponse, responses
from albums_core.indexer import sync_artist
from albums_core.web import lambda_entry, make_app

app = make_app()


@app.post(
    "/artists/me/sync",
    summary="Index my records from my PDS",
    operation_id="sync_artist",
    tags=["artists"],
    security=SESSION,
    responses=responses(SyncResponse, 401, 403, 502),
)
def sync() -> dict[str, Any]:
    caller: auth.Caller = app.context["caller"]
    with pds_errors():
        counts = sync_artist(caller.artist)
    return {"synced": True, **counts}


lambda_handler = lambda_entry(app, guard=auth.artist_guard)
