"""Codec server for the Temporal Web UI and CLI: POST /encode and /decode with the payload key."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from ticketing.runtime.settings import Settings
from ticketing.temporal.codec import EncryptionCodec, PayloadKeyError, payload_codec

DEFAULT_PORT = 8888
DEFAULT_ORIGINS = ("http://localhost:8233", "http://127.0.0.1:8233")
# Temporal caps a payload at 2 MB; a request carries a handful of them.
MAX_BODY = 16 * 1024 * 1024


class CodecServer(ThreadingHTTPServer):
    """An HTTP server holding the codec and the Web UI origins allowed to call it."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], codec: EncryptionCodec, origins: Sequence[str]
    ) -> None:
        super().__init__(address, CodecRequestHandler)
        self.codec = codec
        self.origins = frozenset(origin.rstrip("/") for origin in origins)


class CodecRequestHandler(BaseHTTPRequestHandler):
    server: CodecServer

    def do_OPTIONS(self) -> None:  # noqa: N802 - http.server's naming
        if not self._origin_allowed():
            self._reply(HTTPStatus.FORBIDDEN, b"")
            return
        self._reply(HTTPStatus.NO_CONTENT, b"")

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        transform = self._transform()
        if transform is None:
            self._reply(HTTPStatus.NOT_FOUND, b'{"message": "POST /encode or /decode"}')
            return
        if not self._origin_allowed():
            self._reply(HTTPStatus.FORBIDDEN, b'{"message": "origin not allowed"}')
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b'{"message": "body too large"}')
            return
        try:
            payloads = json_format.Parse(self.rfile.read(length), Payloads())
            result = Payloads(payloads=[transform(payload) for payload in payloads.payloads])
        except (json_format.ParseError, PayloadKeyError, UnicodeDecodeError) as exc:
            self._reply(HTTPStatus.BAD_REQUEST, json.dumps({"message": str(exc)}).encode())
            return
        self._reply(HTTPStatus.OK, json_format.MessageToJson(result).encode())

    def _transform(self) -> Callable[[Payload], Payload] | None:
        # The UI posts to <endpoint>/decode, and may put the namespace in the path before it.
        path = self.path.split("?", 1)[0].rstrip("/")
        if path.endswith("/decode"):
            return self.server.codec.decode_payload
        if path.endswith("/encode"):
            return self.server.codec.encode_payload
        return None

    def _origin_allowed(self) -> bool:
        # No Origin: the temporal CLI or curl on this machine; a browser always sends one.
        origin = self.headers.get("Origin")
        return origin is None or origin.rstrip("/") in self.server.origins

    def _reply(self, status: HTTPStatus, body: bytes) -> None:
        self.send_response(status)
        origin = self.headers.get("Origin")
        if origin is not None and self._origin_allowed():
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Access-Control-Allow-Credentials", "true")
            self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
            self.send_header(
                "Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization"
            )
            self.send_header("Access-Control-Max-Age", "600")
        self.send_header("Vary", "Origin")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)



def build_server(
    settings: Settings, host: str, port: int, origins: Sequence[str]
) -> CodecServer:
    """A codec server for the configured payload key (raises when none is configured)."""
    codec = payload_codec(settings)
    if codec is None:
        raise PayloadKeyError("TICKETING_PAYLOAD_KEY is not set: there is nothing to decode")
    return CodecServer((host, port), codec, origins)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ticketing.temporal.codec_server",
                                     description=__doc__)
    parser.add_argument("--host", default="127.0.0.1",
                        help="bind address (loopback: anyone who reaches it can decode)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--origin", action="append", dest="origins",
                        help="a Web UI origin allowed to call it (repeatable; default: the "
                             "dev server's UI on port 8233)")
    args = parser.parse_args(argv)
    try:
        server = build_server(Settings(), args.host, args.port, args.origins or DEFAULT_ORIGINS)
    except (PayloadKeyError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"codec server on http://{args.host}:{server.server_address[1]}", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
