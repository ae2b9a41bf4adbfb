"""POST /artists/me/sync: index the caller's fm.plyr records from their PDS."""

from typing import Any

from albums_core import bootstrap
from albums_core.http.response_models import SESSION, SyncResponse, responses
from albums_core.http.web import lambda_entry, make_app
from albums_core.services import auth

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
    return {"synced": True, **bootstrap.indexing().sync_for_caller(caller.artist)}


lambda_handler = lambda_entry(app, guard=bootstrap.artist_guard)
