"""GET /albums/{handle}: an artist's albums, ordered by title."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from albums_core.http.response_models import ArtistAlbumsResponse, responses
from albums_core.http.web import make_app, path_param, resolve
from albums_core.observability import logger, metrics, tracer
from albums_core.services.listing import list_artist_albums as list_for_artist

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
    return list_for_artist(path_param(app, "ref"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context)
