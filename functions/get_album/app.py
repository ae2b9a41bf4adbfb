"""GET /albums/{handle}/{slug}: an album page with its tracks in list-record order."""

from typing import Annotated, Any
from urllib.parse import quote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header

from albums_core import bootstrap
from albums_core.http.conditional import page_response
from albums_core.http.response_models import (
    IF_NONE_MATCH_DOC,
    AlbumResponse,
    page_responses,
    redirect_responses,
    responses,
)
from albums_core.http.web import lambda_entry, make_app, optional_viewer, path_param, redirect, request_base
from albums_core.services.album_pages import Moved

app = make_app()


@app.get(
    "/albums/<ref>/<slug>",
    summary="Get an album page",
    description="`ref` is the artist's handle, or its DID while it has no verified handle. "
    "Tracks come in the order of the album's list record. A session (optional) personalises `is_liked` and `gated`. "
    "A slug the album had before a rename (while no other album of the artist takes it) answers 308 with "
    "`Location` the album's current path.",
    operation_id="get_album",
    tags=["albums"],
    responses={
        **page_responses(responses(AlbumResponse, 404, 422)),
        **redirect_responses(308, "to the album's current path (a former slug)"),
    },
)
def get_album(
    ref: str,
    slug: str,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match", description=IF_NONE_MATCH_DOC)] = None,
) -> Response[Any]:
    page = bootstrap.album_pages().render(path_param(app, "ref"), path_param(app, "slug"), optional_viewer(app))
    if isinstance(page, Moved):
        return redirect(308, f"{request_base(app)}/albums/{quote(page.handle, safe=':')}/{page.slug}")
    return page_response(app.current_event.raw_event, page)


lambda_handler = lambda_entry(app)
