"""GET /albums/{handle}: an artist's albums, ordered by title."""

from typing import Any

from albums_core import bootstrap
from albums_core.http.response_models import ArtistAlbumsResponse, responses
from albums_core.http.web import lambda_entry, make_app, path_param

app = make_app()


# One variable name per path position: {ref} is a handle for GET, an album id for mutations.
@app.get(
    "/albums/<ref>",
    summary="List an artist's albums",
    description="`ref` is the artist's handle (case-insensitive), or its DID while it has no verified handle.",
    operation_id="list_artist_albums",
    tags=["albums"],
    responses=responses(ArtistAlbumsResponse, 404, 422),
)
def list_artist_albums(ref: str) -> dict[str, Any]:
    return bootstrap.listings().list_artist_albums(path_param(app, "ref"))


lambda_handler = lambda_entry(app)
