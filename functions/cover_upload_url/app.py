"""POST /albums/{album_id}/cover/upload-url: a presigned POST for covers up to 20 MB; the
uploaded object is checked and attached by the ProcessCoverUpload trigger."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Header

from albums_core import bootstrap
from albums_core.http.response_models import IF_MATCH_DOC, SESSION, UploadFormResponse, responses
from albums_core.http.web import lambda_entry, make_app, path_param
from albums_core.services import auth
from albums_core.services.album_admin import AlbumCaller

app = make_app()


@app.post(
    "/albums/<ref>/cover/upload-url",
    summary="Get an upload form for a large cover",
    description="`ref` is the album id. POST the file to `url` with `fields` (and a `Content-Type` field "
    "naming an image type) within `expires_in` seconds; the album shows the cover once it is checked. "
    "Under an If-Match, the upload is attached only if the album is still at that version when it "
    "arrives (otherwise it is discarded).",
    operation_id="cover_upload_url",
    tags=["covers"],
    security=SESSION,
    responses=responses(UploadFormResponse, 400, 401, 403, 404, 412, 422),
)
def upload_url(
    ref: str,
    if_match: Annotated[str | None, Header(alias="If-Match", description=IF_MATCH_DOC)] = None,
) -> dict[str, Any]:
    caller: auth.Caller = app.context["caller"]
    album = bootstrap.album_admin(caller).owned(
        path_param(app, "ref"), "you can only upload cover art for your own albums"
    )
    expected = caller.expected if isinstance(caller, AlbumCaller) else None
    return bootstrap.covers().upload_form(album, expected)


lambda_handler = lambda_entry(app, guard=bootstrap.album_guard("you can only upload cover art for your own albums"))
