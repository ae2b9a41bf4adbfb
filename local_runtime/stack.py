"""The whole local stack in one object: moto, resources from template.yaml, the demo
catalogue, the record server and the HTTP gateway."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from local_runtime.gateway import Gateway
from local_runtime.lambda_host import LambdaHost
from local_runtime.pds import LocalPds
from local_runtime.processes import MotoServer, free_port
from local_runtime.resources import create_all
from local_runtime.template import ROOT, Stack, local_stack

STATE_DIR = ROOT / ".local"


def aws_session(region: str) -> boto3.Session:
    # moto accepts any credentials
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)  # noqa: S106


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class LocalStack:
    port: int = 3000
    seed: bool = True
    moto: MotoServer | None = None
    pds: LocalPds | None = None
    gateway: Gateway | None = None
    host: LambdaHost | None = None
    stack: Stack | None = None
    demo: dict[str, Any] = field(default_factory=dict)

    def start(self) -> LocalStack:
        STATE_DIR.mkdir(exist_ok=True)
        port = self.port if self.port and _port_free(self.port) else free_port()
        api_url = f"http://127.0.0.1:{port}"
        from local_runtime.seed import demo_accounts

        self.pds = LocalPds(log=STATE_DIR / "pds.log").start(demo_accounts())
        self.moto = MotoServer(log=STATE_DIR / "moto.log").start()
        self.stack = local_stack(
            endpoint=self.moto.url,
            overrides={
                "CoversBaseUrl": f"{api_url}/covers",
                "PlcUrl": self.pds.plc_url,
                "HandleResolverUrl": self.pds.pds_url,
            },
        )
        session = aws_session(self.stack.region)
        create_all(self.stack, session, self.moto.url)
        self.host = LambdaHost(self.stack, self.moto.url)
        s3 = session.client("s3", endpoint_url=self.moto.url)
        bucket = self.stack.physical["CoversBucket"]
        if self.seed:
            from local_runtime.seed import publish_demo

            self.demo = publish_demo(self.pds.accounts, s3, bucket, f"{api_url}/covers")
        from local_runtime.event_pump import S3EventPump
        from local_runtime.stream_pump import SchedulePump, StreamPump

        self.s3_pump = S3EventPump(self.stack, self.host, session, self.moto.url).start()
        self.stream_pump = StreamPump(self.stack, self.host, session, self.moto.url).start()
        self.schedule_pump = SchedulePump(
            self.stack, self.host, float(os.environ.get("ALBUMS_LOCAL_SCHEDULE_SECONDS", "300"))
        ).start()
        cors = self.stack.resources["HttpApi"]["Properties"].get("CorsConfiguration")
        self.gateway = Gateway(self.host, self.stack.routes(), port, s3=s3, bucket=bucket, cors=cors).start()
        return self

    def state(self) -> dict[str, Any]:
        assert self.stack and self.moto and self.gateway and self.pds
        return {
            "api_url": self.gateway.url,
            "aws_endpoint_url": self.moto.url,
            "region": self.stack.region,
            "covers_base_url": f"{self.gateway.url}/covers",
            "pds_url": self.pds.pds_url,
            "plc_url": self.pds.plc_url,
            "accounts": [
                {"handle": a["handle"], "did": a["did"], "password": a["password"]} for a in self.pds.accounts
            ],
            "tables": {k: self.stack.physical[k] for k in self.stack.of_type("AWS::DynamoDB::Table")},
            "bucket": self.stack.physical["CoversBucket"],
            "functions": sorted(self.stack.functions()),
            "demo": self.demo,
        }

    def write_state(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.state(), indent=2, ensure_ascii=False) + "\n")

    def stop(self) -> None:
        for pump in ("s3_pump", "stream_pump", "schedule_pump"):
            if getattr(self, pump, None):
                getattr(self, pump).stop()
        if self.gateway:
            self.gateway.stop()
        if self.host:
            self.host.close()
        if self.pds:
            self.pds.stop()
        if self.moto:
            self.moto.stop()
