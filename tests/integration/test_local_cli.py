"""The local runtime's commands as a shell uses them: stdout is the result alone."""

from __future__ import annotations

import subprocess
import sys

from local_runtime.template import ROOT


def test_lambda_build_names_its_cache_on_stderr_only() -> None:
    """`make -s invoke` runs it before the function: its stdout must stay the result alone
    (`| jq .statusCode`). The build is cached: this only checks it."""
    done = subprocess.run(
        [sys.executable, "-m", "local_runtime.lambda_build"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    assert done.stdout == ""
    assert "local Lambda runtime" in done.stderr
