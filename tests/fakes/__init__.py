"""In-memory fakes of our own ports (albums_core.ports), for unit tests of the services.

Each keeps the contract its adapter documents (conditions, idempotence, what a failure looks
like) so a service's orchestration can be tested in milliseconds; the adapters themselves
are tested against moto and the local PDS in tests/integration. A shared `Journal` records
the writes of every fake in the order they happen, so a test can check that the PDS was
written before the catalogue."""

from tests.fakes.artists import FakeArtists
from tests.fakes.catalogue import FakeCatalogue
from tests.fakes.covers import FakeCoverStore
from tests.fakes.jobs import FakeDeletionJobs, FakeJobQueue
from tests.fakes.journal import Journal
from tests.fakes.page_cache import FakePageCache
from tests.fakes.pds import FakePds
from tests.fakes.sessions import FakeSealer, FakeSessionStore

__all__ = [
    "FakeArtists",
    "FakeCatalogue",
    "FakeCoverStore",
    "FakeDeletionJobs",
    "FakeJobQueue",
    "FakePageCache",
    "FakePds",
    "FakeSealer",
    "FakeSessionStore",
    "Journal",
]
