"""Configuration is validated at init: every function starts, in its Lambda-like worker, with
exactly its template environment (Globals + its own), and a function deployed without one of
the resource names it needs fails its init with a message that names the variable."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local_runtime.lambda_host import FunctionError, LambdaHost
from local_runtime.processes import MotoServer
from local_runtime.template import ROOT, Function, Stack, local_stack

EVENTS = ROOT / "events"
# One call per function that needs no PDS: what it answers proves its handler ran.
REPRESENTATIVE: dict[str, tuple[str, Any]] = {
    "AddAlbumTracksFunction": ("add_album_tracks_401", 401),
    "AuthLoginFunction": ("auth_login_422", 422),
    "AuthLogoutFunction": ("auth_logout_401", 401),
    "AuthMeFunction": ("auth_me_401", 401),
    "AuthPdsOptionsFunction": ("auth_pds_options_200", 200),
    "AuthStartFunction": ("auth_start_400", 400),
    "AuthCallbackFunction": ("auth_callback_303_unknown_state", 303),
    "AuthExchangeFunction": ("auth_exchange_401", 401),
    "OAuthClientMetadataFunction": ("oauth_client_metadata_200", 200),
    "OAuthJwksFunction": ("oauth_jwks_200", 200),
    "CoverUploadUrlFunction": ("cover_upload_url_401", 401),
    "CreateAlbumFunction": ("create_album_401", 401),
    "DeleteAlbumFunction": ("delete_album_401", 401),
    "GetAlbumFunction": ("get_album_404", 404),
    "ListAlbumsFunction": ("list_albums_200", 200),
    "ListArtistAlbumsFunction": ("list_artist_albums_404", 404),
    "RemoveTrackFromAlbumFunction": ("remove_track_from_album_401", 401),
    "ReorderAlbumTracksFunction": ("reorder_album_tracks_401", 401),
    "SyncArtistFunction": ("sync_artist_401", 401),
    "UpdateAlbumFunction": ("update_album_401", 401),
    "UploadAlbumCoverFunction": ("upload_album_cover_401", 401),
    "ProcessCatalogueStreamFunction": ("process_catalogue_stream_remove_album", {"batchItemFailures": []}),
    "ProcessCoverUploadFunction": ("process_cover_upload_s3_object_created", "processed"),
    "SweepFunction": ("sweep_schedule", "covers_deleted"),
    "ReorderListFunction": ("reorder_list_401", 401),
    "GetArtistFunction": ("get_artist_404", 404),
    "CreateDeveloperTokenFunction": ("create_developer_token_401", 401),
    "ListDeveloperTokensFunction": ("list_developer_tokens_401", 401),
    "RevokeDeveloperTokenFunction": ("revoke_developer_token_401", 401),
    # The Subsonic API answers its errors in an envelope with HTTP 200.
    "SubsonicSystemFunction": ("subsonic_system_200_ping_without_credentials", 200),
    "SubsonicBrowseFunction": ("subsonic_browse_200_album_list_wrong_api_key", 200),
    "SubsonicMediaFunction": ("subsonic_media_200_stream_without_credentials", 200),
    # The relay is a closed loopback port here: the run ends, saying so, once its connect time is up.
    "ConsumeFirehoseFunction": ("consume_firehose_schedule", "relay unreachable"),
}
# The resource names, and a function that has each: the Globals' and each function's own.
RESOURCE_NAMES = {
    "CATALOGUE_TABLE": "GetAlbumFunction",
    "CACHE_TABLE": "SweepFunction",
    "SESSIONS_TABLE": "AuthMeFunction",
    "SESSIONS_KMS_KEY_ID": "AuthLogoutFunction",
    "COVERS_BUCKET": "ProcessCoverUploadFunction",
    "CURSOR_KEY_PARAMETER": "ListAlbumsFunction",
    "DEAD_LETTER_QUEUE_URL": "ProcessCatalogueStreamFunction",
}


class HostWithout(LambdaHost):
    """A LambdaHost whose functions lack one variable of their template environment."""

    def __init__(self, *args: Any, missing: str, **kwargs: Any) -> None:
        self.missing = missing
        super().__init__(*args, **kwargs)

    def environment(self, fn: Function) -> dict[str, str]:
        env = super().environment(fn)
        assert self.missing in env, f"{fn.logical_id} has no {self.missing} to take away"
        del env[self.missing]
        return env


def test_every_function_has_a_representative_call() -> None:
    assert set(REPRESENTATIVE) == set(local_stack().functions())


@pytest.fixture(scope="module")
def host(moto: MotoServer, stack: Stack) -> Any:
    with LambdaHost(stack, moto.url, export_environment=False) as lambda_host:
        yield lambda_host


@pytest.mark.parametrize("function", sorted(REPRESENTATIVE))
def test_each_function_starts_with_its_template_environment(aws_env: None, host: LambdaHost, function: str) -> None:
    name, expected = REPRESENTATIVE[function]
    result = host.invoke(function, json.loads((EVENTS / f"{name}.json").read_text()))
    if isinstance(expected, int):
        assert result["statusCode"] == expected, result
    elif isinstance(expected, str):
        assert expected in result or (isinstance(result, dict) and expected in result.values()), result
    else:
        assert result == expected


@pytest.mark.parametrize("variable", sorted(RESOURCE_NAMES))
def test_a_missing_resource_name_fails_init_naming_it(moto: MotoServer, stack: Stack, variable: str) -> None:
    function = RESOURCE_NAMES[variable]
    name, _ = REPRESENTATIVE[function]
    host = HostWithout(stack, moto.url, export_environment=False, missing=variable)
    with host, pytest.raises(FunctionError) as err:
        host.invoke(function, json.loads((EVENTS / f"{name}.json").read_text()))
    assert err.value.error_type == "ConfigurationError", err.value.payload
    assert f"{variable} is not set" in err.value.payload["errorMessage"]


def test_a_blank_resource_name_is_missing_too(moto: MotoServer, stack: Stack) -> None:
    host = LambdaHost(stack, moto.url, {"GetAlbumFunction": {"CATALOGUE_TABLE": "  "}}, export_environment=False)
    with host, pytest.raises(FunctionError) as err:
        host.invoke("GetAlbumFunction", json.loads((EVENTS / "get_album_404.json").read_text()))
    assert "CATALOGUE_TABLE" in err.value.payload["errorMessage"]


@pytest.mark.parametrize(
    "function, variable, value",
    [
        ("ConsumeFirehoseFunction", "FIREHOSE_BATCH_SIZE", "many"),
        ("ConsumeFirehoseFunction", "FIREHOSE_START_CURSOR", "latest"),
        ("AuthPdsOptionsFunction", "AUTH_PDS_OPTIONS", "not json"),
    ],
)
def test_a_bad_value_of_a_functions_own_variable_fails_init_naming_it(
    moto: MotoServer, stack: Stack, function: str, variable: str, value: str
) -> None:
    name, _ = REPRESENTATIVE[function]
    host = LambdaHost(stack, moto.url, {function: {variable: value}}, export_environment=False)
    with host, pytest.raises(FunctionError) as err:
        host.invoke(function, json.loads((EVENTS / f"{name}.json").read_text()))
    assert err.value.error_type == "ConfigurationError", err.value.payload
    assert variable in err.value.payload["errorMessage"]
