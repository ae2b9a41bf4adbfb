"""DELETE /albums/{album_id}/tracks/{track_id}: the track becomes standalone (not deleted)."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path

from albums_core import bootstrap
from albums_core.http.response_models import SESSION, RemoveTrackResponse, responses
from albums_core.http.web import lambda_entry, make_app, path_param

app = make_app()


@app.delete(
    "/albums/<ref>/tracks/<track_id>",
    summary="Remove a track from an album",
    description="`ref` is the album id. The track stays, standalone.",
    operation_id="remove_track_from_album",
    tags=["albums"],
    security=SESSION,
    responses=responses(RemoveTrackResponse, 400, 401, 403, 404, 409, 422, 502),
)
def remove_track(
    ref: str,
    track_id: Annotated[str, Path(pattern=r"^(0|[1-9][0-9]{0,17})$", description="the track's integer id")],
) -> dict[str, Any]:
    return bootstrap.album_admin(app.context["caller"]).remove_track(path_param(app, "ref"), int(track_id))


lambda_handler = lambda_entry(app, guard=bootstrap.album_guard("you can only modify your own albums"))
