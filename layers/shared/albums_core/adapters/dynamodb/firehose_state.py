"""The firehose consumer's own state in DynamoDB, as three adapters over one table (composed, each
in its module): the lease and cursor checkpoint (firehose_lease.py), the state per repository
(repo_state.py) and the likes with their counters (likes.py)."""

from __future__ import annotations

from dataclasses import dataclass

from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.firehose_lease import FirehoseLeases
from albums_core.adapters.dynamodb.likes import LikeStore
from albums_core.adapters.dynamodb.repo_state import RepoStates


@dataclass(frozen=True)
class FirehoseState:
    leases: FirehoseLeases
    repos: RepoStates
    likes: LikeStore

    @classmethod
    def on(cls, repo: CatalogueWriter | None = None) -> FirehoseState:
        """The three on one catalogue table (its client and table name)."""
        repo = repo or CatalogueWriter()
        return cls(FirehoseLeases(repo), RepoStates(repo), LikeStore(repo))

    @property
    def calls(self) -> int:
        """DynamoDB calls made through them."""
        return self.leases.calls + self.repos.calls + self.likes.calls
