"""The ATProto adapters' errors, in a leaf module: XRPC, identity and OAuth modules raise and
catch one another's errors through here. The domain owns them (domain/upstream.py), so the
services catch the same classes without importing an adapter."""

from __future__ import annotations

from albums_core.domain.upstream import (
    AccountUnavailable,
    AuthServerUnavailable,
    GrantRevoked,
    IdentityUnavailable,
    NoAuthServer,
    OAuthFailure,
    PdsUnavailable,
    ScopeMissing,
    SessionRevoked,
    TokenRefused,
    UnknownIdentity,
    UntrustedEndpoint,
    XrpcError,
)

__all__ = [
    "AccountUnavailable",
    "AuthServerUnavailable",
    "GrantRevoked",
    "IdentityUnavailable",
    "NoAuthServer",
    "OAuthFailure",
    "PdsUnavailable",
    "ScopeMissing",
    "SessionRevoked",
    "TokenRefused",
    "UnknownIdentity",
    "UntrustedEndpoint",
    "XrpcError",
]
