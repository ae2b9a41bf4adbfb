"""POST /albums: a new album and its list record (idempotent per artist and slug)."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from albums_core import bootstrap
from albums_core.http.conditional import versioned_response
from albums_core.http.request_models import CreateAlbumBody
from albums_core.http.response_models import SESSION, AlbumMetadata, etag_responses, responses
from albums_core.http.web import lambda_entry, make_app

app = make_app()


@app.post(
    "/albums",
    summary="Create an album",
    description="Creates the album and its `fm.plyr.list` record. Idempotent per slug: an existing album "
    "is returned with 200.",
    operation_id="create_album",
    tags=["albums"],
    security=SESSION,
    responses=etag_responses(
        responses(AlbumMetadata, 401, 403, 409, 415, 422, 502, status=201, also={200: "the album already exists"}),
        200,
        201,
    ),
)
def create_album(body: Annotated[CreateAlbumBody, Body()]) -> Response[Any]:
    admin = bootstrap.album_admin(app.context["caller"])
    status, metadata = admin.create(body.title, body.description)
    return versioned_response(metadata, admin.version, status)


lambda_handler = lambda_entry(app, guard=bootstrap.artist_guard)
