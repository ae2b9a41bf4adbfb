"""Check what `sam build` produced is what the template's arm64 / python3.13 Lambda runtime loads.

Run by `make build` after `sam build`. Every ELF shared object under .aws-sam/build must be an
aarch64 build (a pip that installed the build machine's own x86-64 wheels would pass every local
test and fail at the first import on Lambda), every version-tagged extension module must be for
CPython 3.13, and the layer must hold the compiled dependencies the functions import.

    python3 -m tools.check_build [BUILD_DIR]     # default .aws-sam/build
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

EM_AARCH64 = 183  # ELF e_machine values
MACHINES = {3: "x86", 40: "ARM", 62: "x86-64", 183: "aarch64"}
# The layer's compiled dependencies (layers/shared/requirements.txt): package folder -> requirement.
COMPILED = {"pydantic_core": "pydantic", "PIL": "pillow", "cryptography": "cryptography"}
LAYER = "SharedLayer"
ABI_TAG = re.compile(r"\.cpython-(\d)(\d+)-")
WANTED_ABI = ("3", "13")


def elf_machine(path: Path) -> int | None:
    """e_machine of an ELF file, None when the file is not ELF."""
    with path.open("rb") as handle:
        header = handle.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")


@dataclass
class Report:
    shared_objects: int = 0
    problems: list[str] = field(default_factory=list)


def check(build: Path) -> Report:
    report = Report()
    if not (build / "template.yaml").is_file():
        report.problems.append(f"{build} holds no built template.yaml: did `sam build` run?")
        return report
    for path in sorted(build.rglob("*.so*")):
        if not path.is_file() or not re.search(r"\.so(\.\d+)*$", path.name):
            continue
        machine = elf_machine(path)
        if machine is None:
            continue
        report.shared_objects += 1
        where = path.relative_to(build)
        if machine != EM_AARCH64:
            report.problems.append(f"{where}: built for {MACHINES.get(machine, machine)}, not aarch64")
        tag = ABI_TAG.search(path.name)
        if tag and tag.groups() != WANTED_ABI:
            report.problems.append(f"{where}: an extension for CPython {tag[1]}.{tag[2]}, not 3.13")
    layer = build / LAYER / "python"
    for package, requirement in COMPILED.items():
        folder = layer / package
        if not folder.is_dir():
            report.problems.append(f"{LAYER} lacks {package} ({requirement}): {folder} is missing")
        elif not any(elf_machine(p) == EM_AARCH64 for p in folder.rglob("*.so") if p.is_file()):
            report.problems.append(f"{LAYER}'s {package} ({requirement}) has no aarch64 extension module")
    return report


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    build = Path(args[0] if args else ".aws-sam/build")
    report = check(build)
    for problem in report.problems:
        print(f"build check: {problem}", file=sys.stderr)
    if report.problems:
        print(f"build check: {len(report.problems)} problem(s) in {build}", file=sys.stderr)
        return 1
    print(
        f"build check: {report.shared_objects} shared objects in {build}, all aarch64; "
        f"{LAYER} holds aarch64 builds of {', '.join(COMPILED)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
