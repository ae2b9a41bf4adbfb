"""Find a Python of the functions' runtime version for `sam build`; print the folder to put first on PATH.

`sam build` (BuildMethod python3.13) looks for a working `python3.13` on PATH. A newcomer's
machine often has one that is not on PATH (pyenv keeps it under its versions folder, and pyenv's
shim for it fails unless that version is selected). Looked at in order: PYTHON313 (an
interpreter's path), `python3.13` on PATH (run, not only found: a pyenv shim may refuse),
pyenv's versions folder (PYENV_ROOT or ~/.pyenv, highest 3.13.x first), uv's managed Pythons.

    python3 -m tools.sam_python     # prints the folder; exit 2 with what to do when there is none
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

VERSION = (3, 13)  # template.yaml's Runtime: python3.13
NAME = f"python{VERSION[0]}.{VERSION[1]}"


def works(python: Path) -> bool:
    """The interpreter runs and is the wanted version (SAM runs it the same way to validate it)."""
    try:
        out = subprocess.run(  # noqa: S603 - candidates are interpreters this machine has installed
            [str(python), "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return False
    return out.returncode == 0 and out.stdout.split() == [str(VERSION[0]), str(VERSION[1])]


def _version_key(folder: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", folder.name))


def candidates(env: dict[str, str]) -> Iterator[Path]:
    if env.get("PYTHON313"):
        yield Path(env["PYTHON313"])
    on_path = shutil.which(NAME, path=env.get("PATH", ""))
    if on_path:
        yield Path(on_path)
    home = Path(env.get("HOME") or Path.home())
    pyenv = Path(env.get("PYENV_ROOT") or home / ".pyenv") / "versions"
    prefix = f"{VERSION[0]}.{VERSION[1]}."
    if pyenv.is_dir():
        # 3.13.x releases only, newest first (not 3.13t free-threaded or 3.13-dev).
        found = [v for v in pyenv.iterdir() if re.fullmatch(re.escape(prefix) + r"\d+", v.name)]
        for version in sorted(found, key=_version_key, reverse=True):
            yield version / "bin" / NAME
    uv = Path(env.get("UV_PYTHON_INSTALL_DIR") or home / ".local" / "share" / "uv" / "python")
    if uv.is_dir():
        found = [v for v in uv.iterdir() if v.name.startswith(f"cpython-{prefix}") and "freethreaded" not in v.name]
        for version in sorted(found, key=_version_key, reverse=True):
            yield version / "bin" / NAME


def find(env: dict[str, str]) -> Path | None:
    """The folder holding a working `python3.13`, or None."""
    for python in candidates(env):
        if python.is_file() and works(python):
            return python.parent
    return None


def main() -> int:
    chosen = os.environ.get("PYTHON313")
    if chosen and not (Path(chosen).is_file() and works(Path(chosen))):
        print(f"PYTHON313={chosen} is not a working {NAME}", file=sys.stderr)
        return 2
    folder = find(dict(os.environ))
    if folder is None:
        print(
            f"make build needs {NAME} (the functions' runtime, template.yaml) and found none: not "
            f"PYTHON313, no working {NAME} on PATH, none under pyenv's versions folder or uv's.\n"
            f"Install one (`pyenv install 3.13`, `uv python install 3.13`, your system's packages or "
            f"python.org), or point PYTHON313 at one: make build PYTHON313=/path/to/{NAME}",
            file=sys.stderr,
        )
        return 2
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
