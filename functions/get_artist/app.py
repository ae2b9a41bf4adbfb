"""GET /artists/by-handle/{handle} and GET /artists/{did}: an artist's profile, as the web
app's artist page loads it."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header

from albums_core import bootstrap
from albums_core.http.conditional import page_response
from albums_core.http.response_models import IF_NONE_MATCH_DOC, ArtistProfileResponse, page_responses, responses
from albums_core.http.web import lambda_entry, make_app, path_param

app = make_app()
IfNoneMatch = Annotated[str | None, Header(alias="If-None-Match", description=IF_NONE_MATCH_DOC)]


def _json(body: str) -> Response[str]:
    return page_response(app.current_event.raw_event, body)


@app.get(
    "/artists/by-handle/<handle>",
    summary="Get an artist's profile by handle",
    description="Any artist we index; the handle is matched case-insensitively (a DID here is 404: use "
    "`/artists/{did}`). `bio` is the description of the artist's `app.bsky.actor.profile` record.",
    operation_id="get_artist_by_handle",
    tags=["artists"],
    responses=page_responses(responses(ArtistProfileResponse, 404)),
)
def get_artist_by_handle(handle: str, if_none_match: IfNoneMatch = None) -> Response[str]:
    return _json(bootstrap.artist_profiles().by_handle(path_param(app, "handle")))


@app.get(
    "/artists/<did>",
    summary="Get an artist's profile by DID",
    description="Any artist we index; the DID is matched exactly.",
    operation_id="get_artist",
    tags=["artists"],
    responses=page_responses(responses(ArtistProfileResponse, 404)),
)
def get_artist(did: str, if_none_match: IfNoneMatch = None) -> Response[str]:
    return _json(bootstrap.artist_profiles().by_did(path_param(app, "did")))


lambda_handler = lambda_entry(app)
