"""The Lambda-like interpreter the local workers run on, built as `sam build` builds the layer.

Two parts, cached together outside the repo (every clone on the machine shares them), keyed by
what they are built from (the layer's requirements, the boto3/botocore pins, the Python version):

- `runtime/`: a virtualenv without system site packages and without pip, holding only what the
  Lambda Python runtime ships (boto3, botocore and their dependencies, at the dev pins);
- `layer/`: `pip install -r layers/shared/requirements.txt --target` (what `sam build` puts in
  the layer's `python/` folder; the layer's own source is added from `layers/shared` as is).

Everything is built in a temporary folder renamed into place last, under a lock, so an
interrupted build is never taken for a finished one. Only PyPI is needed.

    python -m local_runtime.lambda_build      # builds if needed; names the cache folder on stderr
"""

from __future__ import annotations

import fcntl
import functools
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from local_runtime.template import ROOT

LAYER_SOURCE = ROOT / "layers" / "shared"
LAYER_REQUIREMENTS = LAYER_SOURCE / "requirements.txt"
DEV_REQUIREMENTS = ROOT / "requirements-dev.txt"
# Bumped when the layout below changes, so old caches are not reused.
BUILD_FORMAT = "1"
_MARKER = ".albums-lambda-complete"


@dataclass(frozen=True)
class LambdaBuild:
    root: Path
    python: Path  # the runtime virtualenv's interpreter
    layer: Path  # the installed layer requirements

    def sys_path(self, code_uri: Path) -> list[str]:
        """As Lambda orders it: the function's code, then the layer (/opt/python), then the runtime."""
        return [str(code_uri), str(self.layer), str(LAYER_SOURCE)]


def _pin(name: str) -> str:
    """boto3/botocore as requirements-dev.txt pins them, else as the dev virtualenv has them
    (both pinned by the layer's requirements, which requirements-dev.txt includes)."""
    for line in DEV_REQUIREMENTS.read_text().splitlines():
        found = re.match(rf"^{name}==(\S+)", line.strip())
        if found:
            return found.group(1)
    return version(name)


def runtime_version() -> str:
    """The template's Runtime (Globals), e.g. "3.13"."""
    from local_runtime.template import load

    runtime = str(load()["Globals"]["Function"].get("Runtime", "python3.13"))
    return runtime.removeprefix("python")


def find_python(wanted: str) -> tuple[str, str]:
    """(interpreter, its X.Y): the template's Python if this machine has it (PATH, then pyenv),
    else the dev interpreter's base; ALBUMS_LAMBDA_PYTHON overrides."""
    given = os.environ.get("ALBUMS_LAMBDA_PYTHON")
    candidates = [given] if given else []
    candidates += [shutil.which(f"python{wanted}") or ""]
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates += sorted(glob.glob(f"{pyenv}/versions/{wanted}.*/bin/python{wanted}"), reverse=True)
    candidates += [getattr(sys, "_base_executable", sys.executable)]
    for candidate in candidates:
        if not candidate:
            continue
        probe = subprocess.run(
            [candidate, "-I", "-c", "import sys, venv; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0:
            return candidate, probe.stdout.strip()
    raise RuntimeError("no usable Python interpreter for the local Lambda workers")


def cache_root() -> Path:
    given = os.environ.get("ALBUMS_LAMBDA_CACHE")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "albums-lambda"


def _key(python_version: str) -> str:
    h = hashlib.sha256()
    for part in (
        BUILD_FORMAT,
        python_version,
        _pin("boto3"),
        _pin("botocore"),
        LAYER_REQUIREMENTS.read_text(),
        sys.platform,
        os.uname().machine,
    ):
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:16]


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")


def _site_packages(venv: Path) -> Path:
    found = list(venv.glob("lib/python*/site-packages"))
    if len(found) != 1:
        raise RuntimeError(f"no site-packages in {venv}")
    return found[0]


def _build(python: str, dest: Path, work: Path) -> None:
    print(f"building the local Lambda runtime and layer into {dest} (first run only)", file=sys.stderr, flush=True)
    # A throwaway virtualenv whose pip does the installs: the runtime one gets no pip of its own.
    tools = work / "tools"
    _run([python, "-m", "venv", str(tools)])
    pip = [str(tools / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "--no-input", "install", "-q"]
    runtime = work / "runtime"
    _run([python, "-m", "venv", "--without-pip", str(runtime)])
    _run([*pip, "--target", str(_site_packages(runtime)), f"boto3=={_pin('boto3')}", f"botocore=={_pin('botocore')}"])
    _run([*pip, "--target", str(work / "layer"), "-r", str(LAYER_REQUIREMENTS)])
    shutil.rmtree(tools)
    (work / _MARKER).write_text("")


@functools.cache
def ensure_build() -> LambdaBuild:
    """The cached build for this checkout's requirements, built first if missing (once per process)."""
    python, python_version = find_python(runtime_version())
    root = cache_root()
    dest = root / _key(python_version)
    if not (dest / _MARKER).exists():
        root.mkdir(parents=True, exist_ok=True)
        with (root / f".{dest.name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (dest / _MARKER).exists():  # another process may have built it meanwhile
                work = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=root))
                try:
                    _build(python, dest, work)
                    shutil.rmtree(dest, ignore_errors=True)
                    work.rename(dest)
                finally:
                    shutil.rmtree(work, ignore_errors=True)
    return LambdaBuild(root=dest, python=dest / "runtime" / "bin" / "python", layer=dest / "layer")


if __name__ == "__main__":
    # stderr: `make -s invoke` runs this first, and its stdout must be the function's result alone.
    print(f"local Lambda runtime: {ensure_build().root}", file=sys.stderr)
