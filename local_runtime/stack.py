"""The whole local stack in one object: moto, resources from template.yaml, the demo
catalogue, the record server and the HTTP gateway."""

from __future__ import annotations

import json
import os
import re
import socket
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3

from local_runtime.gateway import ApiSettings, Gateway
from local_runtime.lambda_host import LambdaHost
from local_runtime.pds import LocalPds
from local_runtime.processes import MotoServer
from local_runtime.resources import create_all
from local_runtime.template import ROOT, Stack, local_stack
from local_runtime.upload_front import UploadFront

STATE_DIR = ROOT / ".local"


LOCAL_KEY = ("testing", "testing")


def aws_session(region: str) -> boto3.Session:
    # moto accepts any credentials
    return boto3.Session(aws_access_key_id=LOCAL_KEY[0], aws_secret_access_key=LOCAL_KEY[1], region_name=region)


def hold_port(port: int) -> socket.socket:
    """A socket bound and listening on 127.0.0.1:`port`, held until the gateway serves on it (a
    check now and a bind minutes later let another process take the port meanwhile); any free
    port when that one is taken (or 0)."""
    for candidate in (port, 0) if port else (0,):
        sock = socket.socket()
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as HTTPServer binds
            sock.bind(("127.0.0.1", candidate))
            sock.listen(128)
            return sock
        except OSError:
            sock.close()
    raise OSError("no free port on 127.0.0.1")


_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def web_app_parameters(frontend_url: str | None, allowed_origins: list[str] | None) -> dict[str, str]:
    """The stack's FrontendUrl and AllowedOrigins for the given settings (SystemExit naming a
    bad one): the template's defaults for what is not given; a frontend given alone is allowed
    besides the default origins."""
    defaults = local_stack()
    frontend = (frontend_url or defaults.parameters["FrontendUrl"]).rstrip("/")
    parts = urlsplit(frontend)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise SystemExit(f"FRONTEND_URL must be an http(s) URL such as http://127.0.0.1:5173, not {frontend_url!r}")
    if allowed_origins is None:
        default_origins = defaults.resolve({"Ref": "AllowedOrigins"})
        assert isinstance(default_origins, list)
        allowed_origins = list(dict.fromkeys([*default_origins, origin_of(frontend)]))
    for origin in allowed_origins:
        if not _ORIGIN.match(origin):
            raise SystemExit(
                f"ALLOWED_ORIGINS must be comma-separated origins (scheme://host[:port], no path, no '*'): {origin!r}"
            )
    return {"FrontendUrl": frontend, "AllowedOrigins": ",".join(allowed_origins)}


@dataclass
class LocalStack:
    port: int = 3000
    seed: bool = True
    moto: MotoServer | None = None
    pds: LocalPds | None = None
    gateway: Gateway | None = None
    host: LambdaHost | None = None
    front: UploadFront | None = None
    stack: Stack | None = None
    demo: dict[str, Any] = field(default_factory=dict)
    # The web app's base URL and the origins allowed to call with credentials (`make run
    # FRONTEND_URL=… ALLOWED_ORIGINS=…`); None: the template's defaults (web_app_parameters).
    frontend_url: str | None = None
    allowed_origins: list[str] | None = None
    # Where pds.log and moto.log go: beside the state file, so runtimes started side by side
    # (the tests' workers) each keep their own.
    logs: Path = STATE_DIR

    def start(self) -> LocalStack:
        """Everything up, or (on any failure, Ctrl-C included) every process started so far ended
        and the port released before the error is raised."""
        self.logs.mkdir(parents=True, exist_ok=True)
        listener = hold_port(self.port)
        try:
            self._start(listener)
        except BaseException:
            listener.close()
            self.stop()
            raise
        return self

    def _start(self, listener: socket.socket) -> None:
        port = int(listener.getsockname()[1])
        origin = f"http://127.0.0.1:{port}"
        from local_runtime.seed import demo_accounts

        self.pds = LocalPds(log=self.logs / "pds.log").start(demo_accounts())
        self.moto = MotoServer(log=self.logs / "moto.log").start()
        self.stack = local_stack(
            endpoint=self.moto.url,
            overrides={
                "CoversBaseUrl": f"{origin}/covers",
                "PlcUrl": self.pds.plc_url,
                "HandleResolverUrl": self.pds.pds_url,
                # The local PDS's own subscribeRepos stands in for a relay.
                "RelayUrl": self.pds.pds_url.replace("http://", "ws://", 1),
                # Everything the local PDS holds: edits made before the consumer first connected too.
                "FirehoseStartCursor": "0",
                # The loopback OAuth client's redirect URI is under it (the gateway serves the stage).
                "PublicApiUrl": f"{origin}/{local_stack().parameters['Stage']}",
                **web_app_parameters(self.frontend_url, self.allowed_origins),
            },
        )
        session = aws_session(self.stack.region)
        create_all(self.stack, session, self.moto.url)
        # The functions' S3 endpoint: S3's checks of presigned POST forms, then moto.
        self.front = UploadFront(self.moto.url, dict([LOCAL_KEY])).start()
        # IAM as deployed: each worker signs with its own function's keys, so a call its template
        # does not grant is AccessDenied here as in AWS.
        self.host = LambdaHost(self.stack, self.moto.url, function_env=self.iam_function_env())
        s3 = session.client("s3", endpoint_url=self.moto.url)
        bucket = self.stack.physical["CoversBucket"]
        if self.seed:
            from local_runtime.seed import publish_demo

            self.demo = publish_demo(self.pds.accounts, s3, bucket, f"{origin}/covers")
        from local_runtime.async_invoke import AsyncInvoker
        from local_runtime.event_pump import S3EventPump
        from local_runtime.firehose_pump import FUNCTION as FIREHOSE_FUNCTION
        from local_runtime.stream_pump import SchedulePump, StreamPump

        self.s3_pump = S3EventPump(self.stack, self.host, session, self.moto.url).start()
        self.stream_pump = StreamPump(self.stack, self.host, session, self.moto.url).start()
        self.schedule_pump = SchedulePump(
            self.stack,
            self.host,
            float(os.environ.get("ALBUMS_LOCAL_SCHEDULE_SECONDS", "300")),
            invoker=AsyncInvoker(self.stack, self.host, session.client("sqs", endpoint_url=self.moto.url)),
            exclude=frozenset({FIREHOSE_FUNCTION}),
        ).start()
        from local_runtime.firehose_pump import FirehosePump

        # The firehose consumer runs continuously unless ALBUMS_LOCAL_FIREHOSE=0 (the benchmark
        # runs its own consumer in process, and keeps other sections' timings free of it).
        self.firehose_pump = FirehosePump(self.stack, self.host)
        if os.environ.get("ALBUMS_LOCAL_FIREHOSE", "1") != "0":
            self.firehose_pump.start()
        self.gateway = Gateway(
            self.host,
            self.stack.routes(),
            port,
            s3=s3,
            bucket=bucket,
            settings=ApiSettings.from_stack(self.stack),
            listener=listener,
        ).start()

    def function_env(self) -> dict[str, dict[str, str]]:
        """What each function's environment gets on top of local_environment(), by logical id."""
        assert self.stack and self.front
        return {name: {"AWS_ENDPOINT_URL_S3": self.front.url} for name in self.stack.functions()}

    def iam_function_env(self) -> dict[str, dict[str, str]]:
        """IAM as deployed: one moto IAM user per function with the template's policies
        (local_runtime/iam.py). Returns each function's environment on top of
        local_environment(): its own keys (no session token) and the S3 front; calls made with
        those keys get what the template grants and AccessDenied otherwise. For a host that
        runs each function in a process of its own (`function_env`); the in-process host
        shares one environment, so it keeps the local root key."""
        from local_runtime.iam import create_function_users, function_env

        assert self.stack and self.moto and self.front
        keys = create_function_users(self.stack, aws_session(self.stack.region), self.moto.url)
        self._function_keys = {k["AWS_ACCESS_KEY_ID"]: logical for logical, k in keys.items()}
        # CoverUploadUrlFunction signs its forms with its own key: the front must know it.
        self.front.credentials.update({k["AWS_ACCESS_KEY_ID"]: k["AWS_SECRET_ACCESS_KEY"] for k in keys.values()})
        return function_env(keys, self.front.url)

    def state(self) -> dict[str, Any]:
        assert self.stack and self.moto and self.gateway and self.pds
        return {
            "api_url": self.gateway.url,
            "aws_endpoint_url": self.moto.url,
            "s3_endpoint_url": self.front.url if self.front else self.moto.url,
            "region": self.stack.region,
            "stage": self.gateway.settings.stage,
            # Where CloudFront would serve covers: outside the API's stage.
            "covers_base_url": f"{self.gateway.origin}/covers",
            "pds_url": self.pds.pds_url,
            "plc_url": self.pds.plc_url,
            "accounts": [
                {"handle": a["handle"], "did": a["did"], "password": a["password"]} for a in self.pds.accounts
            ],
            "tables": {k: self.stack.physical[k] for k in self.stack.of_type("AWS::DynamoDB::Table")},
            "bucket": self.stack.physical["CoversBucket"],
            "functions": sorted(self.stack.functions()),
            "frontend_url": self.stack.parameters["FrontendUrl"],
            "allowed_origins": self.stack.resolve({"Ref": "AllowedOrigins"}),
            "demo": self.demo,
        }

    def write_state(self, path: Path) -> None:
        # Written beside and renamed into place: a reader polling for the file never sees it half-written.
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(self.state(), indent=2, ensure_ascii=False) + "\n")
        partial.replace(path)

    def stop(self) -> None:
        """Ends what was started, in reverse order; each part is stopped even when another fails
        (a partly started stack too: a failed start calls this)."""
        if os.environ.get("ALBUMS_LOCAL_IAM_CALLS"):
            from local_runtime.iam import write_calls

            write_calls(Path(os.environ["ALBUMS_LOCAL_IAM_CALLS"]), getattr(self, "_function_keys", {}))
        parts: list[Any] = [getattr(self, pump, None) for pump in ("s3_pump", "stream_pump", "schedule_pump")]
        parts += [getattr(self, "firehose_pump", None), self.gateway]
        for part in parts:
            if part is not None:
                _quietly(part.stop)
        if self.host:
            _quietly(self.host.close)
        for process in (self.pds, self.front, self.moto):
            if process is not None:
                _quietly(process.stop)


def _quietly(stop: Any) -> None:
    try:
        stop()
    except Exception:  # noqa: BLE001 - the other parts must still be stopped
        traceback.print_exc()
