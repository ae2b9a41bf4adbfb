"""Routing on a named stage: API Gateway puts `/<stage>` in rawPath on the execute-api URL, not
through a custom domain's API mapping; handlers read path parameters from `pathParameters`."""

from typing import Any

import pytest

from albums_core.http.web import make_app, path_param, resolve

app = make_app()


@app.get("/albums/<ref>")
def one(ref: str) -> dict[str, str]:
    return {"ref": path_param(app, "ref")}


def event(raw_path: str, stage: str, ref: str | None = "a b") -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "GET /albums/{ref}",
        "rawPath": raw_path,
        "rawQueryString": "",
        "headers": {},
        "requestContext": {
            "http": {"method": "GET", "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "routeKey": "GET /albums/{ref}",
            "stage": stage,
        },
        "isBase64Encoded": False,
        **({"pathParameters": {"ref": ref}} if ref is not None else {}),
    }


@pytest.mark.parametrize(
    "raw_path, stage",
    [
        ("/dev/albums/a%20b", "dev"),  # the execute-api URL of a named stage
        ("/dev/albums/a%20b/", "dev"),
        ("/albums/a%20b", "$default"),
        ("/albums/a%20b", "dev"),  # a custom domain mapped to the stage: no prefix
        ("/albums/a%20b/", "prod"),
    ],
)
def test_routes_match_with_or_without_the_stage_in_the_path(raw_path: str, stage: str) -> None:
    out = resolve(app, event(raw_path, stage), None)
    assert out["statusCode"] == 200, out
    # The parameter is API Gateway's (decoded), not re-parsed from the raw path.
    assert out["body"] == '{"ref":"a b"}'


def test_without_path_parameters_it_is_404_not_500() -> None:
    out = resolve(app, event("/dev/albums/x", "dev", ref=None), None)
    assert out["statusCode"] == 404
