"""`python -m bench`: one local stack, six sections, every figure beside its target."""

from __future__ import annotations

import os
import platform
import sys
import time
from importlib.metadata import version

from bench.common import LAYER, LOG_FILE, ROOT, heading, table, verdict

SECTIONS = {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}


def main() -> int:
    # `python -m bench 4` (or `4 6`): only those sections; none named: every section.
    chosen = set(sys.argv[1:]) or SECTIONS
    if not chosen <= SECTIONS:
        print(f"unknown section(s): {' '.join(sorted(chosen - SECTIONS))}; sections are 1-10", file=sys.stderr)
        return 2
    # The layer is on the path in Lambda; the local runtime puts it there the same way.
    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))
    from local_runtime.stack import LocalStack

    started = time.perf_counter()
    LOG_FILE.parent.mkdir(exist_ok=True)
    LOG_FILE.write_bytes(b"")
    print(
        f"albums service benchmarks - Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"moto {version('moto')} on 127.0.0.1; function logs: {LOG_FILE.relative_to(ROOT)}"
    )
    # The stack's own consumer stays off: section 8 runs one in this process, and the other
    # sections' timings are kept free of it.
    os.environ["ALBUMS_LOCAL_FIREHOSE"] = "0"
    # moto's own request log (the IAM report's): the calls of the functions' worker processes
    # are counted where they arrive (section 6).
    from bench import server_calls

    server_calls.enable()
    stack = LocalStack(port=0, seed=True)
    summary: list[tuple[str, bool]] = []
    try:
        stack.start()
        # Only now: Powertools reads its environment (metrics namespace, service name) when the
        # layer is first imported, and the stack's LambdaHost is what sets that environment.
        from bench import (
            calls,
            cleanups,
            coldstart,
            costs,
            firehose,
            lasting,
            network,
            paging,
            sdk_cost,
            subsonic,
            writes,
        )

        for section, module in (
            ("1", coldstart),
            ("1", sdk_cost),
            ("2", calls),
            ("2", subsonic),
            ("3", paging),
            ("4", writes),
            # Section 6 needs the stack (its PDS, moto, the stream pump), so it runs before section 5.
            ("6", cleanups),
            ("7", lasting),
            ("8", firehose),
            ("9", network),
            ("10", costs),
        ):
            if section in chosen:
                summary += module.run(stack)
    finally:
        stack.stop()
    # Needs no stack, and runs after it is down: its background work (the stream pump, moto) would
    # share the CPU with the timings. Each case runs in a fresh process of its own.
    if "5" in chosen:
        from bench import covers

        summary += covers.run()

    heading("Targets")
    print(table(["target", "met"], [[name, verdict(met)] for name, met in summary]))
    print()
    print(f"  {sum(m for _, m in summary)}/{len(summary)} targets met; run took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
