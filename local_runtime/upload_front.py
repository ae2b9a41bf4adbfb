"""The local S3 endpoint the functions see: a proxy in front of moto that checks browser-based
uploads (presigned POST forms) the way S3 does before the object reaches moto.

moto stores whatever a POST form carries: it checks neither the signature nor the policy's
conditions, so locally one artist could swap the form's key and overwrite another's upload.
S3 refuses such a form; so does this front. A POST to a bucket must carry a SigV4 form
(`x-amz-algorithm`, `x-amz-credential`, `x-amz-date`, `x-amz-signature`, `policy`): the
signature over the policy is checked with the local credentials, then the policy's
expiration, then every condition (exact and `starts-with` fields, `content-length-range`) and
that every form field is covered by one. Refusals are S3's XML errors (403, or 400 for the
size range and a SigV2 form). Every other request goes to moto unchanged."""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import hashlib
import hmac
import http.client
import json
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from local_runtime.loopback_http import LoopbackHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection", "upgrade", "te"}
# Form fields S3 does not require a policy condition for.
UNCHECKED_FIELDS = {"x-amz-signature", "file", "policy"}


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def xml(self) -> bytes:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(self.code)}</Code><Message>{escape(self.message)}</Message>"
            f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
        ).encode()


def _denied(message: str) -> Refused:
    return Refused(403, "AccessDenied", message)


@dataclass
class Form:
    fields: dict[str, str]  # lower-cased names, as S3 matches them
    file: bytes
    filename: str


def parse_form(content_type: str, body: bytes) -> Form:
    """A multipart/form-data body. As in S3, the file is the last field that counts."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise Refused(412, "PreconditionFailed", "Bucket POST must be of the enclosure-type multipart/form-data")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not isinstance(message, EmailMessage) or not message.is_multipart():
        raise Refused(
            400, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data."
        )
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        if not isinstance(part, EmailMessage):
            continue
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if name.lower() == "file":
            filename = part.get_filename() or ""
            return Form(fields, data, filename)
        fields[name.lower()] = data.decode("utf-8", "replace")
    raise Refused(400, "InvalidArgument", "POST requires exactly one file upload per request.")


def signing_key(secret: str, date: str, region: str, service: str = "s3") -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _check_signature(form: Form, secret_of: Callable[[str], str | None]) -> None:
    fields = form.fields
    if "awsaccesskeyid" in fields or "signature" in fields:
        raise Refused(
            400,
            "InvalidRequest",
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
        )
    for name in ("policy", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"):
        if name not in fields:
            raise _denied(f"Bucket POST must contain a field named '{name}'.")
    if fields["x-amz-algorithm"] != "AWS4-HMAC-SHA256":
        raise Refused(400, "InvalidArgument", "The x-amz-algorithm field must be AWS4-HMAC-SHA256.")
    parts = fields["x-amz-credential"].split("/")
    if len(parts) != 5 or parts[3] != "s3" or parts[4] != "aws4_request":
        raise Refused(400, "InvalidArgument", "Invalid x-amz-credential field.")
    access_key, date, region = parts[0], parts[1], parts[2]
    secret = secret_of(access_key)
    if secret is None:
        raise Refused(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
    expected = hmac.new(signing_key(secret, date, region), fields["policy"].encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields["x-amz-signature"].lower()):
        raise Refused(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )


def _policy(form: Form, now: datetime) -> dict[str, Any]:
    try:
        policy = json.loads(base64.b64decode(form.fields["policy"], validate=True))
        expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
        conditions = policy["conditions"]
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError):
        raise Refused(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.") from None
    if not isinstance(conditions, list):
        raise Refused(400, "InvalidPolicyDocument", "Invalid Policy: Invalid 'conditions' value.")
    if expires.tzinfo is None or now >= expires:
        raise _denied("Invalid according to Policy: Policy expired.")
    return dict(policy)


def _check_conditions(form: Form, bucket: str, conditions: list[Any]) -> None:
    values = {**form.fields, "bucket": bucket}
    if "${filename}" in values.get("key", ""):
        values["key"] = values["key"].replace("${filename}", form.filename)
    covered: set[str] = set()

    def failed(condition: Any) -> Refused:
        return _denied(f"Invalid according to Policy: Policy Condition failed: {json.dumps(condition)}")

    for condition in conditions:
        if isinstance(condition, dict) and len(condition) == 1:
            ((name, wanted),) = condition.items()
            name = name.lower()
            covered.add(name)
            if values.get(name) != wanted:
                raise failed(condition)
        elif isinstance(condition, list) and len(condition) == 3 and condition[0] == "content-length-range":
            low, high = int(condition[1]), int(condition[2])
            if len(form.file) > high:
                raise Refused(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
            if len(form.file) < low:
                raise Refused(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size")
        elif (
            isinstance(condition, list)
            and len(condition) == 3
            and condition[0] in ("eq", "starts-with")
            and isinstance(condition[1], str)
            and condition[1].startswith("$")
        ):
            name = condition[1][1:].lower()
            covered.add(name)
            value = values.get(name, "")
            ok = value == condition[2] if condition[0] == "eq" else value.startswith(str(condition[2]))
            if not ok:
                raise failed(condition)
        else:
            raise Refused(400, "InvalidPolicyDocument", f"Invalid Policy: Invalid condition: {json.dumps(condition)}")
    extra = sorted(
        n for n in form.fields if n not in covered and n not in UNCHECKED_FIELDS and not n.startswith("x-ignore-")
    )
    if extra:
        raise _denied(f"Invalid according to Policy: Extra input fields: {', '.join(extra)}")
    if "key" not in form.fields:
        raise Refused(400, "InvalidArgument", "Bucket POST must contain a field named 'key'.")


def check_upload(
    bucket: str,
    content_type: str,
    body: bytes,
    secret_of: Callable[[str], str | None],
    now: datetime | None = None,
) -> Form:
    """What S3 checks of a POST form before it stores the object; raises Refused."""
    form = parse_form(content_type, body)
    _check_signature(form, secret_of)
    policy = _policy(form, now or datetime.now(UTC))
    _check_conditions(form, bucket, policy["conditions"])
    return form


class UploadFront:
    """Proxy to moto on 127.0.0.1; POST forms to a bucket are checked first."""

    def __init__(self, upstream: str, credentials: Mapping[str, str], port: int = 0) -> None:
        self.upstream = urlsplit(upstream)
        # access key id -> secret: the keys that can sign a form (the local ones, per-function IAM users)
        self.credentials = dict(credentials)
        self.refused = 0
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def _body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    chunks: list[bytes] = []
                    while True:
                        size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _handle(self) -> None:
                body = self._body()
                path = urlsplit(self.path).path
                bucket = path.strip("/")
                if self.command == "POST" and bucket and "/" not in bucket and not urlsplit(self.path).query:
                    try:
                        check_upload(bucket, self.headers.get("Content-Type", ""), body, front.credentials.get)
                    except Refused as refusal:
                        front.refused += 1
                        self._answer(refusal.status, [("Content-Type", "application/xml")], refusal.xml())
                        return
                self._forward(body)

            def _forward(self, body: bytes) -> None:
                conn = http.client.HTTPConnection(front.upstream.netloc, timeout=120)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                    headers["Content-Length"] = str(len(body))
                    conn.request(self.command, self.path, body=body, headers=headers)
                    reply = conn.getresponse()
                    self._answer(reply.status, reply.getheaders(), reply.read())
                finally:
                    conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle

        self._server = LoopbackHTTPServer(("127.0.0.1", port), Handler)
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> UploadFront:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
