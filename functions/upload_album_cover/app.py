"""POST /albums/{album_id}/cover: a cover from a multipart upload (field `image`)."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header

from albums_core import bootstrap
from albums_core.http.conditional import versioned_response
from albums_core.http.multipart import parse, single_file
from albums_core.http.response_models import (
    COVER_BODY,
    IF_MATCH_DOC,
    SESSION,
    CoverResponse,
    responses,
    versioned_responses,
)
from albums_core.http.web import lambda_entry, make_app, path_param, raw_body
from albums_core.services import auth
from albums_core.services.album_admin import AlbumCaller
from albums_core.services.covers import check_direct_size

app = make_app()
# Multipart framing around a file at the limit stays well under this.
_FRAMING = 64 * 1024


@app.post(
    "/albums/<ref>/cover",
    summary="Upload an album cover",
    description="`ref` is the album id. Multipart form, file field `image`: JPEG, PNG or WebP judged from "
    "the bytes, at most 4 MB (larger: ask for an upload form) and 40 megapixels.",
    operation_id="upload_album_cover",
    tags=["covers"],
    security=SESSION,
    openapi_extensions=COVER_BODY,
    responses=versioned_responses(responses(CoverResponse, 400, 401, 403, 404, 413, 422), 200),
)
def upload_cover(
    ref: str,
    if_match: Annotated[str | None, Header(alias="If-Match", description=IF_MATCH_DOC)] = None,
) -> Response[Any]:
    caller: auth.Caller = app.context["caller"]
    admin = bootstrap.album_admin(caller)
    album = admin.owned(path_param(app, "ref"), "you can only upload cover art for your own albums")
    event = app.current_event.raw_event
    body = raw_body(event)
    check_direct_size(len(body), _FRAMING)
    content_type = next((v for k, v in (event.get("headers") or {}).items() if k.lower() == "content-type"), None)
    part = single_file(parse(content_type, body), "image")
    expected = caller.expected if isinstance(caller, AlbumCaller) else None
    answer, version = bootstrap.covers().attach_direct(album, caller.artist.handle, part.data, expected)
    return versioned_response(answer, version)


lambda_handler = lambda_entry(
    app, guard=bootstrap.album_guard("you can only upload cover art for your own albums"), accepts=()
)
