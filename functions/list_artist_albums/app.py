"""GET /albums/{handle}: an artist's albums, ordered by title."""

import json
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header

from albums_core import bootstrap
from albums_core.http.conditional import page_response
from albums_core.http.response_models import IF_NONE_MATCH_DOC, ArtistAlbumsResponse, page_responses, responses
from albums_core.http.web import lambda_entry, make_app, path_param

app = make_app()


# One variable name per path position: {ref} is a handle for GET, an album id for mutations.
@app.get(
    "/albums/<ref>",
    summary="List an artist's albums",
    description="`ref` is the artist's handle (case-insensitive), or its DID while it has no verified handle.",
    operation_id="list_artist_albums",
    tags=["albums"],
    responses=page_responses(responses(ArtistAlbumsResponse, 404, 422)),
)
def list_artist_albums(
    ref: str,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match", description=IF_NONE_MATCH_DOC)] = None,
) -> Response[str]:
    # Tagged from the body as built: the same reads as before, none more (nothing is cached).
    body = json.dumps(bootstrap.listings().list_artist_albums(path_param(app, "ref")), separators=(",", ":"))
    return page_response(app.current_event.raw_event, body)


lambda_handler = lambda_entry(app)
