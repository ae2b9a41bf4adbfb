"""Settings read from the function's environment once per container, validated at init.

Resource names (tables, bucket, KMS key, SSM parameter, queue) have no default: a function
deployed without one fails its init with a message naming the variable, instead of talking
to a table that happens to be called `catalogue`. Each function gets only template.yaml's
Globals plus its own Environment, so `Settings` requires only the Globals' names; a name one
function alone has (CURSOR_KEY_PARAMETER, DEAD_LETTER_QUEUE_URL) is read where it is needed
and checked at that function's init with `require`; a function's own group of variables is a
model of its own (`firehose_settings`, `pds_options_settings`), validated at that function's
init. No module reads the environment but this one.
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Generic, TypeVar, cast

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError


class ConfigurationError(ValueError):
    """The function's environment lacks a variable or holds an unusable value."""


def _flag(value: object) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def _same_site(value: object) -> str:
    """Lax, Strict or None whatever the case; anything else is a deployment error, told at once."""
    for known in ("Lax", "Strict", "None"):
        if str(value).strip().lower() == known.lower():
            return known
    raise ValueError(f"must be Lax, Strict or None, not {value!r}")


def _scope(value: object) -> str:
    """An OAuth scope: space-separated, `atproto` among its permissions (ATProto requires it)."""
    scope = " ".join(str(value).split())
    if "atproto" not in scope.split():
        raise ValueError(f"must include the atproto scope, not {scope!r}")
    return scope


def _no_trailing_slash(value: object) -> str:
    return str(value).strip().rstrip("/")


def _origins(value: object) -> tuple[str, ...]:
    """A comma-separated list of origins (CloudFormation joins the AllowedOrigins list so)."""
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return tuple(o for o in (str(i).strip().rstrip("/").lower() for i in items) if o)


Name = Annotated[str, BeforeValidator(lambda v: str(v).strip()), Field(min_length=1)]
Url = Annotated[str, BeforeValidator(_no_trailing_slash)]
Flag = Annotated[bool, BeforeValidator(_flag)]


class Settings(BaseModel):
    """What every function has (template.yaml's Globals), by its environment variable's name."""

    model_config = ConfigDict(frozen=True)

    catalogue_table: Name = Field(alias="CATALOGUE_TABLE")
    cache_table: Name = Field(alias="CACHE_TABLE")
    sessions_table: Name = Field(alias="SESSIONS_TABLE")
    kms_key_id: Name = Field(alias="SESSIONS_KMS_KEY_ID")
    covers_bucket: Name = Field(alias="COVERS_BUCKET")
    # Empty only where no distribution serves the covers (tests); the template always sets it.
    covers_base_url: Url = Field(alias="COVERS_BASE_URL", default="")
    cache_ttl_seconds: int = Field(alias="CACHE_TTL_SECONDS", default=300, ge=1)
    # Local runtime and tests only: lets the PDS client reach http:// on loopback addresses.
    allow_loopback_pds: Flag = Field(alias="ALBUMS_ALLOW_LOOPBACK_PDS", default=False)
    pds_timeout_seconds: float = Field(alias="PDS_TIMEOUT_SECONDS", default=1.5, gt=0)
    pds_write_timeout_seconds: float = Field(alias="PDS_WRITE_TIMEOUT_SECONDS", default=8.0, gt=0)
    plc_url: Url = Field(alias="PLC_URL", default="https://plc.directory")
    # Local mode only: the PDS of a development network, asked for its `.test` handles (which have
    # no DNS). Empty in production: handles resolve by DNS TXT and HTTPS well-known, no central resolver.
    handle_resolver_url: Url = Field(alias="HANDLE_RESOLVER_URL", default="")
    # "host:port,..." nameservers for handle TXT lookups; empty: the system's resolver (tests set it).
    handle_dns_nameservers: Annotated[str, BeforeValidator(lambda v: str(v).strip())] = Field(
        alias="HANDLE_DNS_NAMESERVERS", default=""
    )
    # How long a container keeps a resolved handle or DID document (0: not at all).
    identity_cache_seconds: int = Field(alias="IDENTITY_CACHE_SECONDS", default=300, ge=0)
    # What a login indexes before it answers; the rest is a background job (the catalogue stream's).
    login_index_seconds: float = Field(alias="LOGIN_INDEX_SECONDS", default=5.0, ge=0)
    # The same for POST /artists/me/sync (under its function's 29 s), and for one run of the
    # background job (under the stream function's 300 s); a job cut short continues in another.
    sync_index_seconds: float = Field(alias="SYNC_INDEX_SECONDS", default=15.0, ge=0)
    index_job_seconds: float = Field(alias="INDEX_JOB_SECONDS", default=120.0, ge=0)
    # Reads of a PDS anyone may run: the bytes of one response; one listRecords call's pages
    # (of 100) and records; the records of one collection an artist's indexing reads in all (past
    # it the artist is marked over the cap); the bytes of listing one indexing run holds.
    pds_response_max_bytes: int = Field(alias="PDS_RESPONSE_MAX_BYTES", default=5_000_000, ge=1024)
    pds_list_pages_per_call: int = Field(alias="PDS_LIST_PAGES_PER_CALL", default=20, ge=1)
    pds_list_records_per_call: int = Field(alias="PDS_LIST_RECORDS_PER_CALL", default=2000, ge=1)
    pds_list_max_records: int = Field(alias="PDS_LIST_MAX_RECORDS", default=10_000, ge=1)
    pds_list_max_bytes: int = Field(alias="PDS_LIST_MAX_BYTES", default=16_000_000, ge=1024)
    # The firehose consumer's budget for one repository in one batch; a repository over it is
    # set aside (a re-index job replaces its events) so it never holds up the others.
    firehose_repo_seconds: float = Field(alias="FIREHOSE_REPO_SECONDS", default=2.0, gt=0)
    firehose_repo_calls: int = Field(alias="FIREHOSE_REPO_CALLS", default=20, ge=1)
    session_ttl_seconds: int = Field(alias="SESSION_TTL_SECONDS", default=14 * 24 * 3600, ge=1)
    local_mode: Flag = Field(alias="ALBUMS_LOCAL_MODE", default=False)
    # The session cookie's SameSite (Lax, Strict or None) and Domain ("" for the API's host).
    session_cookie_samesite: Annotated[str, BeforeValidator(_same_site)] = Field(
        alias="SESSION_COOKIE_SAMESITE", default="Lax"
    )
    session_cookie_domain: Annotated[str, BeforeValidator(lambda v: str(v).strip())] = Field(
        alias="SESSION_COOKIE_DOMAIN", default=""
    )
    resync_after_seconds: int = Field(alias="RESYNC_AFTER_SECONDS", default=24 * 3600, ge=1)
    # OAuth sign-in: the API's public base URL (its stage included: the client id and redirect
    # URI are under it), the web app's base URL (where the callback sends the browser), the scope.
    public_api_url: Url = Field(alias="PUBLIC_API_URL", default="")
    frontend_url: Url = Field(alias="FRONTEND_URL", default="")
    # The browser frontends allowed to send the session cookie with a write (the CORS list):
    # a cookie-authenticated write from any other origin is refused (cross-site request forgery).
    allowed_origins: Annotated[tuple[str, ...], BeforeValidator(_origins)] = Field(alias="ALLOWED_ORIGINS", default=())
    # The SSM SecureString of the OAuth client's keys (empty: the loopback client, local mode only).
    oauth_key_parameter: Annotated[str, BeforeValidator(lambda v: str(v).strip())] = Field(
        alias="OAUTH_KEY_PARAMETER", default=""
    )
    oauth_scope: Annotated[str, BeforeValidator(_scope)] = Field(
        alias="OAUTH_SCOPE", default="atproto repo:fm.plyr.list repo:fm.plyr.track"
    )

    @property
    def cursor_key_parameter(self) -> str:
        """The SSM parameter that signs list cursors (ListAlbumsFunction's own variable)."""
        return require("CURSOR_KEY_PARAMETER")[0]

    @property
    def dead_letter_queue_url(self) -> str:
        """The stream consumer's dead-letter queue (ProcessCatalogueStreamFunction's own variable)."""
        return require("DEAD_LETTER_QUEUE_URL")[0]


def _problems(error: ValidationError) -> str:
    told = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"])
        told.append(f"{name} is not set" if item["type"] == "missing" else f"{name}: {item['msg']}")
    return "; ".join(told)


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class FirehoseSettings(BaseModel):
    """ConsumeFirehoseFunction's own variables."""

    model_config = ConfigDict(frozen=True)

    relay_url: Name = Field(alias="RELAY_URL")
    # With no checkpoint for the relay: empty is live (now), 0 the oldest event it retains.
    start_cursor: Annotated[int | None, BeforeValidator(_blank_is_none)] = Field(
        alias="FIREHOSE_START_CURSOR", default=None, ge=0
    )
    lease_seconds: float = Field(alias="FIREHOSE_LEASE_SECONDS", default=30.0, gt=0)
    # 0: hold the stream until FIREHOSE_STOP_MARGIN_SECONDS before the invocation's end.
    hold_seconds: float = Field(alias="FIREHOSE_HOLD_SECONDS", default=0.0, ge=0)
    stop_margin_seconds: float = Field(alias="FIREHOSE_STOP_MARGIN_SECONDS", default=20.0, ge=0)
    # A consumer behind the stream takes this many events at once: what a batch costs whatever
    # its size (a transaction of likes, the page drops, the revs) is paid once for all of them.
    batch_size: int = Field(alias="FIREHOSE_BATCH_SIZE", default=2000, ge=1)
    # The checkpoint (and the revs applied) written at most this often; 0: after every batch.
    checkpoint_seconds: float = Field(alias="FIREHOSE_CHECKPOINT_SECONDS", default=1.0, ge=0)


def _json(value: object) -> object:
    """A JSON document in a variable (empty: an empty list)."""
    if isinstance(value, str):
        return json.loads(value) if value.strip() else []
    return value


class PdsOption(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    url: str
    recommended: bool = False
    description: Annotated[str, BeforeValidator(lambda v: "" if v is None else v)] = ""
    info_url: str | None = None


class PdsOptionsSettings(BaseModel):
    """AuthPdsOptionsFunction's own variable: the PDSs the sign-in page offers (a JSON list)."""

    model_config = ConfigDict(frozen=True)

    pds_options: Annotated[tuple[PdsOption, ...], BeforeValidator(_json)] = Field(alias="AUTH_PDS_OPTIONS", default=())


class MetricSettings(BaseModel):
    """The metrics' own variables (every function; none needs a resource name)."""

    model_config = ConfigDict(frozen=True)

    # CacheHit published at most once per this many seconds per container (0: every hit).
    cache_hit_metric_seconds: float = Field(alias="CACHE_HIT_METRIC_SECONDS", default=60.0, ge=0)


M = TypeVar("M", bound=BaseModel)


_loaded: dict[type[BaseModel], BaseModel] = {}


class _Loaded(Generic[M]):
    """A model read from the environment once per container. `cache_clear()` (tests that change
    the environment) makes every model be read again."""

    def __init__(self, model: type[M]) -> None:
        self._model = model

    def __call__(self) -> M:
        value = _loaded.get(self._model)
        if value is None:
            try:
                value = _loaded[self._model] = self._model.model_validate(dict(os.environ))
            except ValidationError as exc:
                raise ConfigurationError(f"invalid function environment: {_problems(exc)}") from None
        return cast(M, value)

    def cache_clear(self) -> None:
        _loaded.clear()


settings = _Loaded(Settings)
firehose_settings = _Loaded(FirehoseSettings)
pds_options_settings = _Loaded(PdsOptionsSettings)
metric_settings = _Loaded(MetricSettings)


def require(*names: str) -> list[str]:
    """The values of variables only some functions have, each non-empty; called at the init of
    the function that needs them so a deployment without one fails at once, naming it."""
    missing = [name for name in names if not os.environ.get(name, "").strip()]
    if missing:
        raise ConfigurationError(f"invalid function environment: {', '.join(missing)} is not set")
    return [os.environ[name].strip() for name in names]
