"""What the world outside can answer, as the services see it: the failures of a PDS, of an
identity lookup, of sealed secrets and of an OAuth authorization server, and the identity a
lookup finds. The adapters raise these (adapters/atproto, adapters/kms_sealer); services catch
them without importing an adapter."""

from __future__ import annotations

import re
from dataclasses import dataclass


class PdsUnavailable(Exception):
    """The PDS could not be reached, timed out, or failed (5xx). `answered`: it did answer
    (with a 5xx, 408 or 429), so it is there to be asked why."""

    def __init__(self, message: str, answered: bool = False) -> None:
        super().__init__(message)
        self.answered = answered


class XrpcError(Exception):
    """The PDS answered with a client error (4xx)."""

    def __init__(self, status: int, error: str, message: str = "") -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status = status
        self.error = error
        self.message = message


class AccountUnavailable(XrpcError):
    """The PDS refuses the account itself (`error` is one of ACCOUNT_REFUSALS)."""


class TokenRefused(XrpcError):
    """The PDS refused the session's access token again right after a refresh: the session
    cannot be made to work by retrying."""


class ScopeMissing(XrpcError):
    """The PDS refused a call the OAuth grant does not cover; `scope` is the permission it names."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, "ScopeMissingError", message)
        found = re.search(r'"([^"]+)"', message)
        self.scope = found.group(1) if found else message


class SessionRevoked(Exception):
    """The PDS refused the session's refresh token: the artist must log in again."""


class UnknownIdentity(Exception):
    """The identifier names no account we can find."""


class IdentityUnavailable(PdsUnavailable):
    """The account's identity could not be read now (DNS, the PLC directory or a did:web host
    down): no verdict. A PdsUnavailable, so callers that treat every outage alike still may."""


@dataclass(frozen=True)
class Identity:
    did: str
    handle: str  # verified both ways, or the DID itself when there is no such handle
    pds_url: str


class SealError(Exception):
    """A sealed payload could not be opened (tampered, wrong session, key unavailable)."""


class OAuthFailure(Exception):
    """The authorization server or the PDS refused or failed a step; `reason` is what the
    frontend is told: failed, expired or scope_mismatch."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class NoAuthServer(Exception):
    """The PDS names no usable OAuth authorization server (or may not be used here)."""


class UntrustedEndpoint(NoAuthServer):
    """The authorization server's metadata names an endpoint we will not send a browser or a
    request to: not https (http loopback only in local mode), or not on the issuer's origin."""


class AuthServerUnavailable(Exception):
    """The PDS or its authorization server could not be reached or failed."""


class GrantRevoked(Exception):
    """The authorization server refused the refresh token: the grant is gone."""
