"""The firehose consumer run continuously, as the other triggers are pumped: AWS starts it on
its schedule and each invocation holds the stream until shortly before its timeout; locally the
next invocation starts as soon as one ends, so edits made in another client on the local PDS
reach the pages within seconds. The same handler, in its own worker, with its own permissions."""

from __future__ import annotations

import sys
import threading
from typing import Any

from local_runtime.lambda_host import FunctionError, LambdaHost
from local_runtime.stream_pump import scheduled_event
from local_runtime.template import Stack

FUNCTION = "ConsumeFirehoseFunction"


class FirehosePump:
    def __init__(self, stack: Stack, host: Any, function: str = FUNCTION, pause: float = 1.0) -> None:
        self.stack = stack
        self.host: LambdaHost = host
        self.function = function
        self.pause = pause
        self.invocations = 0
        self.last: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> FirehosePump:
        if self.function in self.stack.functions():
            self._thread = threading.Thread(target=self._run, name="firehose-pump", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        expression = dict(self.stack.schedules()).get(self.function, "rate(1 minute)")
        while not self._stop.is_set():
            try:
                self.last = self.host.invoke(self.function, scheduled_event(self.stack, self.function, expression))
            except FunctionError as exc:
                self.last = exc.payload
                if not self._stop.is_set():
                    print(f"[firehose pump] {exc}", file=sys.stderr, flush=True)
            except RuntimeError:  # the host closed at shutdown
                return
            self.invocations += 1
            # A consumer that returned at once (the lease is held, the relay is down) is not
            # re-invoked in a tight loop.
            self._stop.wait(self.pause)
