"""PUT /lists/{rkey}/reorder: the web app's reorder of an album, by its list record's key."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header

from albums_core import bootstrap
from albums_core.http.conditional import versioned_response
from albums_core.http.request_models import ReorderListBody
from albums_core.http.response_models import IF_MATCH_DOC, SESSION, ListRefResponse, responses, versioned_responses
from albums_core.http.web import lambda_entry, make_app, path_param

app = make_app()


@app.put(
    "/lists/<rkey>/reorder",
    summary="Set the track order of an album by its list record",
    description="`rkey` is the record key of one of your albums' `fm.plyr.list` records; `items` are the "
    "strong refs of every track of the album, in the new order (a stale `cid` is not an error: the list "
    "record pins each track record's current CID). Answers the list record's URI and new CID.",
    operation_id="reorder_list",
    tags=["albums"],
    security=SESSION,
    responses=versioned_responses(responses(ListRefResponse, 401, 403, 404, 409, 415, 422, 502), 200),
)
def reorder_list(
    rkey: str,
    body: Annotated[ReorderListBody, Body()],
    if_match: Annotated[str | None, Header(alias="If-Match", description=IF_MATCH_DOC)] = None,
) -> Response[Any]:
    uris = [item.uri for item in body.items]
    admin = bootstrap.album_admin(app.context["caller"])
    return versioned_response(admin.reorder_list(path_param(app, "rkey"), uris), admin.version)


lambda_handler = lambda_entry(app, guard=bootstrap.list_guard())
