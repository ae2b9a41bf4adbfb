"""DELETE /albums/{album_id}/tracks/{track_id}: the track becomes standalone (not deleted)."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Path

from albums_core import bootstrap
from albums_core.http.conditional import versioned_response
from albums_core.http.response_models import IF_MATCH_DOC, SESSION, RemoveTrackResponse, responses, versioned_responses
from albums_core.http.web import lambda_entry, make_app, path_param

app = make_app()


@app.delete(
    "/albums/<ref>/tracks/<track_id>",
    summary="Remove a track from an album",
    description="`ref` is the album id. The track stays, standalone.",
    operation_id="remove_track_from_album",
    tags=["albums"],
    security=SESSION,
    responses=versioned_responses(responses(RemoveTrackResponse, 400, 401, 403, 404, 409, 422, 502), 200),
)
def remove_track(
    ref: str,
    track_id: Annotated[str, Path(pattern=r"^(0|[1-9][0-9]{0,17})$", description="the track's integer id")],
    if_match: Annotated[str | None, Header(alias="If-Match", description=IF_MATCH_DOC)] = None,
) -> Response[Any]:
    admin = bootstrap.album_admin(app.context["caller"])
    return versioned_response(admin.remove_track(path_param(app, "ref"), int(track_id)), admin.version)


lambda_handler = lambda_entry(app, guard=bootstrap.album_guard("you can only modify your own albums"))
