"""The `SignInTokens` port over oauth_store.py: an OAuth sign-in's state and exchange tokens."""

from __future__ import annotations


class DynamoSignInTokens:
    # oauth_store imports the OAuth library: loaded when a sign-in needs it, not before.
    def discard_state(self, state: str) -> None:
        from albums_core.adapters.dynamodb import oauth_store

        oauth_store.discard_state(state)

    def issue_exchange_token(self, session_id: str) -> str:
        from albums_core.adapters.dynamodb import oauth_store

        return oauth_store.issue_exchange_token(session_id)

    def redeem_exchange_token(self, token: str) -> str | None:
        from albums_core.adapters.dynamodb import oauth_store

        return oauth_store.redeem_exchange_token(token)
