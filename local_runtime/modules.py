"""A function's handler module loaded from its file, as Lambda loads it from the CodeUri: under
a name of the caller's choosing, so two functions' `app.py` never collide in sys.modules."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
