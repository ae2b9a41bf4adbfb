"""PUT /albums/{album_id}/tracks: the album's full track order."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header

from albums_core import bootstrap
from albums_core.http.conditional import versioned_response
from albums_core.http.request_models import ReorderTracksBody
from albums_core.http.response_models import IF_MATCH_DOC, SESSION, AlbumMetadata, responses, versioned_responses
from albums_core.http.web import lambda_entry, make_app, path_param

app = make_app()


@app.put(
    "/albums/<ref>/tracks",
    summary="Set the track order",
    description="`ref` is the album id; `track_ids` lists every track of the album once.",
    operation_id="reorder_album_tracks",
    tags=["albums"],
    security=SESSION,
    responses=versioned_responses(responses(AlbumMetadata, 401, 403, 404, 409, 415, 422, 502), 200),
)
def reorder_tracks(
    ref: str,
    body: Annotated[ReorderTracksBody, Body()],
    if_match: Annotated[str | None, Header(alias="If-Match", description=IF_MATCH_DOC)] = None,
) -> Response[Any]:
    admin = bootstrap.album_admin(app.context["caller"])
    return versioned_response(admin.reorder(path_param(app, "ref"), body.track_ids), admin.version)


lambda_handler = lambda_entry(app, guard=bootstrap.album_guard("you can only modify your own albums"))
