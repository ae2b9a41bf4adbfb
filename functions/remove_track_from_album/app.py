"""DELETE /albums/{album_id}/tracks/{track_id}: the track becomes standalone (not deleted)."""

from typing import Any

from albums_core import auth
from albums_core.album_admin import AlbumAdmin
from albums_core.api_models import SESSION, RemoveTrackResponse, responses
from albums_core.web import lambda_entry, make_app, path_param

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
def remove_track(ref: str, track_id: int) -> dict[str, Any]:
    return AlbumAdmin(app.context["caller"]).remove_track(path_param(ref), track_id)


lambda_handler = lambda_entry(app, guard=auth.require_artist)
