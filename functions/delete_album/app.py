"""DELETE /albums/{album_id}?cascade=false|true: orphan (or delete) the tracks, then the album."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Header, Query

from albums_core import bootstrap
from albums_core.http.response_models import IF_MATCH_DOC, SESSION, DeleteAlbumResponse, responses, versioned_responses
from albums_core.http.web import lambda_entry, make_app, path_param

app = make_app()


@app.delete(
    "/albums/<ref>",
    summary="Delete an album",
    description="`ref` is the album id. `cascade=true` also deletes the tracks; otherwise they stay, standalone.",
    operation_id="delete_album",
    tags=["albums"],
    security=SESSION,
    responses=versioned_responses(responses(DeleteAlbumResponse, 401, 403, 404, 409, 422, 502)),
)
def delete_album(
    ref: str,
    cascade: Annotated[bool, Query(description="also delete the album's tracks")] = False,
    if_match: Annotated[str | None, Header(alias="If-Match", description=IF_MATCH_DOC)] = None,
) -> dict[str, Any]:
    return bootstrap.album_admin(app.context["caller"]).delete(path_param(app, "ref"), cascade)


lambda_handler = lambda_entry(app, guard=bootstrap.album_guard("you can only delete your own albums"))
