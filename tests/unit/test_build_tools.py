"""`make build`'s helpers: finding a Python 3.13 for SAM, and checking the built artifacts are arm64."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tools import check_build, sam_python

ROOT = Path(__file__).resolve().parents[2]


def fake_python(folder: Path, version: str, name: str = "python3.13", exit_code: int = 0) -> Path:
    """An executable that answers the version probe as an interpreter of `version` would."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    major, minor = version.split(".")[:2]
    path.write_text(f"#!/bin/sh\necho {major} {minor}\nexit {exit_code}\n")
    path.chmod(0o755)
    return path


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    empty = tmp_path / "empty-path"
    empty.mkdir(exist_ok=True)
    return {"PATH": str(empty), "HOME": str(tmp_path / "home"), "PYENV_ROOT": str(tmp_path / "pyenv"), **extra}


def test_a_refusing_shim_on_path_is_passed_over_for_pyenvs_newest_313(tmp_path: Path) -> None:
    shims = tmp_path / "shims"
    fake_python(shims, "3.13", exit_code=127)  # pyenv's shim when 3.13 is not the selected version
    fake_python(tmp_path / "pyenv/versions/3.13.0/bin", "3.13")
    fake_python(tmp_path / "pyenv/versions/3.13.2/bin", "3.13")
    fake_python(tmp_path / "pyenv/versions/3.13.10/bin", "3.13")
    fake_python(tmp_path / "pyenv/versions/3.14.0/bin", "3.14", name="python3.14")
    env = env_for(tmp_path, PATH=str(shims))
    assert sam_python.find(env) == tmp_path / "pyenv/versions/3.13.10/bin"


def test_a_working_python313_on_path_comes_first(tmp_path: Path) -> None:
    on_path = fake_python(tmp_path / "bin", "3.13")
    fake_python(tmp_path / "pyenv/versions/3.13.1/bin", "3.13")
    assert sam_python.find(env_for(tmp_path, PATH=str(on_path.parent))) == on_path.parent


def test_a_python313_that_is_another_version_is_not_taken(tmp_path: Path) -> None:
    fake_python(tmp_path / "bin", "3.12")  # a misnamed link
    assert sam_python.find(env_for(tmp_path, PATH=str(tmp_path / "bin"))) is None


def test_uvs_managed_python_is_found(tmp_path: Path) -> None:
    uv = tmp_path / "home/.local/share/uv/python"
    fake_python(uv / "cpython-3.13.1-linux-x86_64-gnu/bin", "3.13")
    fake_python(uv / "cpython-3.13.3+freethreaded-linux-x86_64-gnu/bin", "3.13")
    assert sam_python.find(env_for(tmp_path)) == uv / "cpython-3.13.1-linux-x86_64-gnu/bin"


def run_finder(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.sam_python"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_none_found_says_what_to_do(tmp_path: Path) -> None:
    run = run_finder(env_for(tmp_path))
    assert run.returncode == 2 and run.stdout == ""
    assert "make build needs python3.13" in run.stderr and "PYTHON313=" in run.stderr


def test_python313_variable(tmp_path: Path) -> None:
    chosen = fake_python(tmp_path / "chosen", "3.13")
    run = run_finder(env_for(tmp_path, PYTHON313=str(chosen)))
    assert run.returncode == 0 and run.stdout.strip() == str(chosen.parent)
    wrong = fake_python(tmp_path / "wrong", "3.11")
    run = run_finder(env_for(tmp_path, PYTHON313=str(wrong)))
    assert run.returncode == 2 and "is not a working python3.13" in run.stderr


def elf(path: Path, machine: int) -> None:
    """The first bytes of a little-endian 64-bit ELF shared object for `machine`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = b"\x7fELF\x02\x01\x01" + bytes(9) + (3).to_bytes(2, "little") + machine.to_bytes(2, "little")
    path.write_bytes(header + bytes(44))


def built(tmp_path: Path, machine: int = check_build.EM_AARCH64) -> Path:
    build = tmp_path / "build"
    build.mkdir()
    (build / "template.yaml").write_text("Resources: {}\n")
    layer = build / "SharedLayer/python"
    elf(layer / "pydantic_core/_pydantic_core.cpython-313-aarch64-linux-gnu.so", machine)
    elf(layer / "PIL/_imaging.cpython-313-aarch64-linux-gnu.so", machine)
    elf(layer / "pillow.libs/libjpeg-1a2b3c.so.62.4.0", machine)
    elf(layer / "cryptography/hazmat/bindings/_rust.abi3.so", machine)
    (layer / "pydantic_core/__init__.py").write_text("")
    (build / "GetAlbumFunction").mkdir()
    (build / "GetAlbumFunction/app.py").write_text("")
    return build


def test_an_arm64_build_passes(tmp_path: Path) -> None:
    report = check_build.check(built(tmp_path))
    assert report.problems == [] and report.shared_objects == 4


def test_x86_64_objects_are_named(tmp_path: Path) -> None:
    build = built(tmp_path)
    elf(build / "SharedLayer/python/PIL/_webp.cpython-313-x86_64-linux-gnu.so", 62)
    elf(build / "GetAlbumFunction/native/libfast.so.1", 62)
    problems = check_build.check(build).problems
    assert problems == [
        "GetAlbumFunction/native/libfast.so.1: built for x86-64, not aarch64",
        "SharedLayer/python/PIL/_webp.cpython-313-x86_64-linux-gnu.so: built for x86-64, not aarch64",
    ]


def test_an_all_x86_64_layer_is_refused_package_by_package(tmp_path: Path) -> None:
    problems = check_build.check(built(tmp_path, machine=62)).problems
    assert len([p for p in problems if "not aarch64" in p]) == 4
    assert "SharedLayer's PIL (pillow) has no aarch64 extension module" in problems


def test_extensions_for_another_python_and_missing_packages(tmp_path: Path) -> None:
    build = built(tmp_path)
    elf(build / "SharedLayer/python/pydantic_core/_pydantic_core.cpython-312-aarch64-linux-gnu.so", 183)
    shutil.rmtree(build / "SharedLayer/python/cryptography")
    problems = check_build.check(build).problems
    assert problems == [
        "SharedLayer/python/pydantic_core/_pydantic_core.cpython-312-aarch64-linux-gnu.so: "
        "an extension for CPython 3.12, not 3.13",
        f"SharedLayer lacks cryptography (cryptography): {build}/SharedLayer/python/cryptography is missing",
    ]


def test_no_build_at_all(tmp_path: Path) -> None:
    assert check_build.main([str(tmp_path / "nothing")]) == 1
