"""GET /albums/{handle}/{slug}: an album page with its tracks in list-record order."""

from aws_lambda_powertools.event_handler import Response, content_types

from albums_core.http.response_models import AlbumResponse, responses
from albums_core.http.web import lambda_entry, make_app, optional_viewer, path_param
from albums_core.services.album_pages import AlbumPages

app = make_app()
pages = AlbumPages()


@app.get(
    "/albums/<ref>/<slug>",
    summary="Get an album page",
    description="`ref` is the artist's handle, or its DID while it has no verified handle. "
    "Tracks come in the order of the album's list record. A session (optional) personalises `is_liked` and `gated`.",
    operation_id="get_album",
    tags=["albums"],
    responses=responses(AlbumResponse, 404, 422),
)
def get_album(ref: str, slug: str) -> Response[str]:
    body = pages.render(path_param(app, "ref"), path_param(app, "slug"), optional_viewer(app))
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=body)


lambda_handler = lambda_entry(app)
