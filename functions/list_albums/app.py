"""GET /albums: one page of albums that have tracks, ordered by title."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query

from albums_core import bootstrap
from albums_core.config import require
from albums_core.http.response_models import AlbumListResponse, responses
from albums_core.http.web import lambda_entry, make_app

# Only this function signs cursors: without the key's parameter name its init fails at once,
# not its first request for a second page.
require("CURSOR_KEY_PARAMETER")
app = make_app()


@app.get(
    "/albums",
    summary="List albums",
    description="Albums that have tracks, by lower-cased title then id, one page at a time.",
    operation_id="list_albums",
    tags=["albums"],
    responses=responses(AlbumListResponse, 400, 422),
)
def list_albums(
    limit: Annotated[int, Query(ge=1, le=100, description="page size")] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    return bootstrap.listings().list_albums(limit, cursor)


lambda_handler = lambda_entry(app)
