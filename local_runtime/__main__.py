"""`python -m local_runtime run` starts the whole service on 127.0.0.1;
`python -m local_runtime invoke <function> -e events/<file>.json` stands in for `sam local invoke`."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from local_runtime.lambda_host import FunctionError
from local_runtime.resources import not_emulated
from local_runtime.stack import STATE_DIR, LocalStack, web_app_parameters
from local_runtime.template import ROOT


def _function_id(name: str, known: list[str]) -> str:
    if name in known:
        return name
    camel = "".join(p.capitalize() for p in re.split(r"[_-]", name)) + "Function"
    if camel in known:
        return camel
    raise SystemExit(f"unknown function {name!r}; one of: {', '.join(known)}")


def _origins(raw: str | None) -> list[str] | None:
    return [o.strip() for o in raw.split(",") if o.strip()] if raw else None


def run(args: argparse.Namespace) -> int:
    origins = _origins(args.allowed_origins)
    web_app = web_app_parameters(args.frontend_url or None, origins)  # a bad setting stops here, first
    done, started = threading.Event(), threading.Event()

    def on_signal(*_: Any) -> None:
        if not started.is_set():
            # Stopped while starting: the start ends what it started (LocalStack.start), then exits.
            raise KeyboardInterrupt
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        stack = LocalStack(
            port=args.port,
            seed=not args.no_seed,
            frontend_url=web_app["FrontendUrl"],
            allowed_origins=origins,
            logs=Path(args.state_file).parent,
        ).start()
    except KeyboardInterrupt:
        return 130
    started.set()
    stack.write_state(Path(args.state_file))
    url = stack.gateway.url if stack.gateway else ""
    demo = stack.demo.get("albums", [])
    print(f"albums API running at {url}", flush=True)
    print(f"  web app (FRONTEND_URL): {web_app['FrontendUrl']}  (sign-in lands on its /portal)", flush=True)
    print(f"  allowed origins (ALLOWED_ORIGINS): {web_app['AllowedOrigins']}", flush=True)
    print(f"  try: {url}/albums", flush=True)
    if demo:
        print(f"       {url}/albums/{demo[0]['handle']}/{demo[0]['slug']}", flush=True)
    print(f"  API docs (Swagger UI): {url}/docs", flush=True)
    print(f"  state: {args.state_file}  (Ctrl-C to stop)", flush=True)
    if stack.stack is not None:
        skipped = ", ".join(f"{kind} x{n}" for kind, n in not_emulated(stack.stack).items())
        print(f"  not emulated locally: {skipped}", flush=True)
    done.wait()
    stack.stop()
    return 0


PLACEHOLDERS = ("DEMO_HANDLE", "DEMO_PASSWORD", "DEMO_SESSION", "DEMO_ALBUM_ID")


def fill_placeholders(text: str, values: dict[str, str]) -> str:
    """events/ files name the demo account, its session and album by placeholder: their
    values are new on every local stack."""
    for name in PLACEHOLDERS:
        text = text.replace(name, values.get(name, name))
    return text


def demo_values(stack: LocalStack) -> dict[str, str]:
    from albums_core import bootstrap

    assert stack.pds is not None
    account = stack.pds.accounts[0]
    session, _ = bootstrap.auth().login(account["handle"], account["password"])
    album = next(a for a in stack.demo.get("albums", []) if a["handle"] == account["handle"])
    return {
        "DEMO_HANDLE": account["handle"],
        "DEMO_PASSWORD": account["password"],
        "DEMO_SESSION": session.session_id,
        "DEMO_ALBUM_ID": album["id"],
    }


def invoke(args: argparse.Namespace) -> int:
    raw = Path(args.event).read_text()
    # Like `sam local invoke`: the function's logs on stderr, its result alone on stdout.
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    failed = False
    try:
        stack = LocalStack(port=0, seed=True).start()
        try:
            assert stack.host is not None
            event: dict[str, Any] = json.loads(fill_placeholders(raw, demo_values(stack)))
            try:
                result = stack.host.invoke(_function_id(args.function, sorted(stack.host.functions)), event)
            except FunctionError as err:  # printed as `sam local invoke` prints a function's error
                result, failed = err.payload, True
        finally:
            stack.stop()
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_runtime")
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="start moto, the resources, the demo catalogue and the HTTP gateway")
    p_run.add_argument("--port", type=int, default=3000, help="gateway port (a free one if taken; 0 for any)")
    p_run.add_argument("--state-file", default=str(STATE_DIR / "stack.json"))
    p_run.add_argument("--no-seed", action="store_true", help="start with an empty catalogue")
    p_run.add_argument(
        "--frontend-url", default=None, help="the web app's base URL (FrontendUrl; default: the template's)"
    )
    p_run.add_argument(
        "--allowed-origins",
        default=None,
        help="comma-separated origins allowed to call with credentials (AllowedOrigins; default: the template's "
        "and the frontend's)",
    )
    p_run.set_defaults(func=run)
    p_inv = sub.add_parser("invoke", help="invoke one function with an events/ file on a fresh local stack")
    p_inv.add_argument("function", help="logical id (GetAlbumFunction) or folder name (get_album)")
    p_inv.add_argument("-e", "--event", required=True)
    p_inv.set_defaults(func=invoke)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
