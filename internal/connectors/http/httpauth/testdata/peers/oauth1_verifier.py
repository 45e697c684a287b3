#!/usr/bin/env python3
"""An OAuth 1.0a resource server for Sluice's tests, written on oauthlib.

Every request is checked by oauthlib's SignatureOnlyEndpoint (RFC 5849:
HMAC-SHA1, HMAC-SHA256, RSA-SHA1, RSA-SHA256, PLAINTEXT; query and
form-encoded body parameters in the base string). A valid request gets 200
and a JSON echo of what oauthlib parsed; anything else gets 401.

Usage: oauth1_verifier.py CONFIG.json [--tls-cert CERT --tls-key KEY]

CONFIG.json: {"clients": {KEY: {"secret": S, "rsa_public_key": PEM}},
              "tokens": {TOKEN: {"secret": S, "client": KEY}}}

It listens on 127.0.0.1 on a free port, prints the port on the first line
of stdout, and exits when stdin closes, so it never outlives the test that
started it. Meant for Debian's python3-oauthlib (/usr/bin/python3).
"""

import json
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import oauthlib
from oauthlib.oauth1 import RequestValidator, SignatureOnlyEndpoint


class Validator(RequestValidator):
    def __init__(self, config, https):
        super().__init__()
        self.clients = config.get("clients", {})
        self.tokens = config.get("tokens", {})
        self.https = https
        self.seen = set()
        self.lock = threading.Lock()

    # Plain-HTTP tests run on loopback; PLAINTEXT is tested over TLS with
    # the default (enforce TLS) in force.
    @property
    def enforce_ssl(self):
        return self.https

    @property
    def dummy_client(self):
        return "dummyClientKeyForTiming0"

    @property
    def dummy_access_token(self):
        return "dummyAccessTokenTiming00"

    def validate_client_key(self, client_key, request):
        return client_key in self.clients

    def get_client_secret(self, client_key, request):
        return self.clients.get(client_key, {}).get("secret", "dummy")

    def get_rsa_key(self, client_key, request):
        return self.clients.get(client_key, {}).get("rsa_public_key", "")

    def get_access_token_secret(self, client_key, token, request):
        t = self.tokens.get(token)
        if t is None or t.get("client") != client_key:
            return "dummy"
        return t["secret"]

    def validate_timestamp_and_nonce(self, client_key, timestamp, nonce,
                                     request, request_token=None,
                                     access_token=None):
        key = (client_key, timestamp, nonce, access_token)
        with self.lock:
            if key in self.seen:
                return False
            self.seen.add(key)
        return True


def main():
    args = sys.argv[1:]
    with open(args[0]) as f:
        config = json.load(f)
    cert = key = None
    if "--tls-cert" in args:
        cert = args[args.index("--tls-cert") + 1]
        key = args[args.index("--tls-key") + 1]
    https = cert is not None
    validator = Validator(config, https)
    endpoint = SignatureOnlyEndpoint(validator)
    scheme = "https" if https else "http"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def read_body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def handle_any(self):
            body = self.read_body().decode("utf-8") or None
            uri = "%s://%s%s" % (scheme, self.headers["Host"], self.path)
            headers = {k: v for k, v in self.headers.items()}
            ok, request = endpoint.validate_request(uri, self.command, body, headers)
            if not ok:
                log = getattr(request, "validator_log", {}) if request else {}
                self.reply(401, {"ok": False, "log": log}, {"WWW-Authenticate": 'OAuth realm="sluice-test"'})
                return
            self.reply(200, {
                "ok": True,
                "client_key": request.client_key,
                "token": request.resource_owner_key,
                "signature_method": request.signature_method,
                "realm": request.realm,
                "params": [[k, v] for k, v in request.params],
                "body": body,
                "oauthlib": oauthlib.__version__,
            }, {})

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any

        def reply(self, status, doc, headers):
            data = json.dumps(doc).encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt, *args):
            sys.stderr.write("oauth1-verifier: " + (fmt % args) + "\n")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if https:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # returns when the test closes our stdin or dies


if __name__ == "__main__":
    main()
