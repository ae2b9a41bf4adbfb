"""The local stack's own start: its port held from the moment it is chosen, every process it
started ended when the start fails. The PDS and moto
are stand-ins here (no process, no connection): what is tested is the stack's bookkeeping."""

from __future__ import annotations

import errno
import socket
from typing import Any, ClassVar

import pytest

from local_runtime import stack as stack_module
from local_runtime.stack import LocalStack


class Stopped(Exception):
    pass


class FakeProcess:
    """Stands in for LocalPds and MotoServer: records its start and stop."""

    started: ClassVar[list[FakeProcess]] = []
    on_start: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.stopped = False
        self.pds_url = self.plc_url = self.url = "http://127.0.0.1:9"
        self.accounts: list[dict[str, str]] = []

    def start(self, *args: Any, **kwargs: Any) -> FakeProcess:
        FakeProcess.started.append(self)
        if FakeProcess.on_start is not None:
            FakeProcess.on_start(self)
        return self

    def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> type[FakeProcess]:
    FakeProcess.started = []
    FakeProcess.on_start = None
    monkeypatch.setattr(stack_module, "LocalPds", FakeProcess)
    monkeypatch.setattr(stack_module, "MotoServer", FakeProcess)
    return FakeProcess


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def can_bind(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            assert exc.errno == errno.EADDRINUSE
            return False
    return True


def test_the_port_is_held_from_the_check_on(fakes: type[FakeProcess]) -> None:
    """Another process trying to take the port while the stack starts (minutes, the first
    time) finds it taken, instead of the stack crashing on its bind at the end."""
    port = free_port()
    taken: list[bool] = []

    def another_process_binds(_: FakeProcess) -> None:
        taken.append(can_bind(port))
        raise Stopped  # enough: the rest of the start is not what this test is about

    fakes.on_start = another_process_binds
    with pytest.raises(Stopped):
        LocalStack(port=port, seed=False).start()
    assert taken == [False]
    assert can_bind(port)  # released by the failed start


def test_a_taken_port_means_another_free_one() -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = int(other.getsockname()[1])
        held = stack_module.hold_port(port)
        try:
            assert held.getsockname()[1] not in (port, 0)
        finally:
            held.close()


@pytest.mark.parametrize("fails_in", ["local_stack", "KeyboardInterrupt"])
def test_a_failed_start_ends_every_process_it_started(
    fakes: type[FakeProcess], monkeypatch: pytest.MonkeyPatch, fails_in: str
) -> None:
    def failing(*args: Any, **kwargs: Any) -> Any:
        if fails_in == "KeyboardInterrupt":
            raise KeyboardInterrupt  # Ctrl-C, or SIGTERM (`run` turns it into this while starting)
        raise OSError(errno.EADDRINUSE, "Address already in use")

    monkeypatch.setattr(stack_module, "local_stack", failing)
    port = free_port()
    with pytest.raises((OSError, KeyboardInterrupt)):
        LocalStack(port=port, seed=False).start()
    assert len(fakes.started) == 2  # the PDS and moto
    assert all(p.stopped for p in fakes.started)
    assert can_bind(port)
