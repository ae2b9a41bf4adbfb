"""Section 1, second part: what the atproto SDK adds to the cold start of the functions that use
it (issue 11, item 4). Each figure is measured in a fresh Lambda-like interpreter (the local
workers' interpreter, sys.path and environment: local_runtime/lambda_build.py), `ROUNDS` times:
the handler module's import, then each SDK piece the function loads when it first needs it."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from bench.common import heading, median, ms, table
from local_runtime.lambda_build import ensure_build
from local_runtime.lambda_host import LambdaHost
from local_runtime.stack import LocalStack

ROUNDS = 7
SDK = ("atproto", "atproto_client", "atproto_core", "atproto_crypto", "atproto_identity", "libipld", "dns")
# (what, code run after the handler module is imported): each piece as the layer loads it.
PIECES = [
    ("libipld (record CIDs)", "import libipld"),
    (
        "SDK syntax validators",
        "from albums_core.adapters.atproto import syntax; syntax.is_tid('3kabcdefghij2')",
    ),
    ("SDK DID document model", "from albums_core.adapters.atproto import syntax; syntax.pds_endpoint({'id': 'x'})"),
    ("dnspython resolver", "import dns.resolver"),
]
# Each function, what it uses the SDK for, and the pieces (by their index in PIECES) it loads.
FUNCTIONS = {
    "AuthLoginFunction": ("login: identity (DNS only for handles outside .test)", (1, 2, 3)),
    "AddAlbumTracksFunction": ("attach: record CIDs, track URI syntax", (0, 1)),
    "UpdateAlbumFunction": ("rename: record CIDs", (0,)),
    "GetAlbumFunction": ("read path (none expected)", ()),
}
PROBE = """
import importlib.util, json, sys, time
spec = json.loads(sys.argv[1])
sys.path[:0] = spec["paths"]
started = time.perf_counter()
loader = importlib.util.spec_from_file_location("app", spec["handler"])
module = importlib.util.module_from_spec(loader)
loader.loader.exec_module(module)
out = {"handler": time.perf_counter() - started}
out["at_import"] = sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in spec["sdk"]})
for name, code in spec["pieces"]:
    started = time.perf_counter()
    exec(code)
    out[name] = time.perf_counter() - started
print(json.dumps(out))
"""
WHOLE = (
    "import sys, time; sys.path[:0] = sys.argv[1:]; s = time.perf_counter(); import atproto;"
    " print(time.perf_counter() - s)"
)


def _probe(python: str, env: dict[str, str], spec: dict[str, Any]) -> dict[str, Any]:
    out = subprocess.run(
        [python, "-I", "-c", PROBE, json.dumps(spec)], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run(stack: LocalStack) -> list[tuple[str, bool]]:
    heading("1b. What the atproto SDK adds to the cold start of the functions that use it")
    assert stack.stack and stack.moto
    build = ensure_build()
    functions = stack.stack.functions()
    host = LambdaHost(stack.stack, stack.moto.url, export_environment=False)
    rows = []
    summary: list[tuple[str, bool]] = []
    try:
        for logical, (what, used) in FUNCTIONS.items():
            fn = functions[logical]
            spec = {
                "paths": build.sys_path(fn.code_uri),
                "handler": str(fn.code_uri / "app.py"),
                "sdk": list(SDK),
                "pieces": [PIECES[i] for i in used],
            }
            env = host.environment(fn)
            _probe(str(build.python), env, spec)  # discarded: writes the .pyc files, warms the file cache
            runs = [_probe(str(build.python), env, spec) for _ in range(ROUNDS)]
            pieces = {name: median([r[name] for r in runs]) for name, _ in spec["pieces"]}
            rows.append(
                [
                    logical,
                    what,
                    ms(median([r["handler"] for r in runs])),
                    ", ".join(runs[0]["at_import"]) or "none",
                    *(ms(pieces[name]) if name in pieces else "-" for name, _ in PIECES),
                    ms(sum(pieces.values())) if pieces else "-",
                ]
            )
            if logical == "GetAlbumFunction":
                summary.append(("the read path loads no SDK module at import", not runs[0]["at_import"]))
        whole = median(
            [
                float(
                    subprocess.run(
                        [str(build.python), "-I", "-c", WHOLE, str(build.layer)],
                        env=host.environment(functions["AuthLoginFunction"]),
                        capture_output=True,
                        text=True,
                        timeout=120,
                        check=True,
                    ).stdout.strip()
                )
                for _ in range(3)
            ]
        )
    finally:
        host.close()
    print(f"  median of {ROUNDS} fresh interpreters each; times in ms; a piece already loaded costs ~0")
    print()
    print(
        table(
            ["function", "uses the SDK for", "handler import", "SDK at import", *(n for n, _ in PIECES), "SDK total"],
            rows,
            "llrl" + "r" * (len(PIECES) + 1),
        )
    )
    print(f"  for comparison, `import atproto` (the whole client, which no function imports): {ms(whole)}")
    return summary
