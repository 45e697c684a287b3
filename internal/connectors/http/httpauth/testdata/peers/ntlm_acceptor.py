#!/usr/bin/env python3
"""An NTLM-protected HTTP server for Sluice's tests: the NTLM exchange is
done by gss-ntlmssp, the GSSAPI NTLMSSP mechanism, through python3-gssapi.

The script only carries tokens between HTTP headers and GSSAPI (RFC 4559
framing). Accounts come from the file named by NTLM_USER_FILE
("DOMAIN:user:password" lines, read by gss-ntlmssp); set LM_COMPAT_LEVEL=5
to make gss-ntlmssp refuse anything but NTLMv2.

Usage: ntlm_acceptor.py [--scheme NTLM|Negotiate]

  --scheme  the WWW-Authenticate scheme announced (default NTLM). Under
            "Negotiate" the tokens are still raw NTLMSSP, handed to the
            NTLMSSP mechanism, as Windows accepts them. (MIT krb5's SPNEGO
            acceptor needs Kerberos acceptor credentials, which a loopback
            test has not, so SPNEGO itself is not used.)

Like IIS, it binds authentication to the TCP connection: once a
connection has authenticated, later requests on it need no header. A
request succeeds with 200 and {"user": ..., "body": ...}; anything else
gets 401. It listens on 127.0.0.1 on a free port, prints the port on the
first line of stdout and exits when stdin closes.
"""

import base64
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import gssapi

NTLMSSP = gssapi.OID.from_int_seq("1.3.6.1.4.1.311.2.2.10")


def main():
    args = sys.argv[1:]
    scheme = args[args.index("--scheme") + 1] if "--scheme" in args else "NTLM"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            self.ctx = None
            self.user = None  # set once this connection has authenticated

        def handle_any(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            auth = self.headers.get("Authorization", "")
            prefix = scheme + " "
            if not auth.startswith(prefix):
                if self.user is not None:
                    return self.ok(body)
                return self.reply(401, b"", {"WWW-Authenticate": scheme})
            token = base64.b64decode(auth[len(prefix):])
            if self.ctx is None or token[8:12] == b"\x01\x00\x00\x00":
                self.user = None
                creds = gssapi.Credentials(usage="accept", mechs=[NTLMSSP])
                self.ctx = gssapi.SecurityContext(creds=creds, usage="accept")
            try:
                out = self.ctx.step(token)
            except gssapi.exceptions.GSSError as e:
                sys.stderr.write("ntlm-acceptor: refused: %s\n" % e)
                self.ctx = None
                return self.reply(401, b"", {"WWW-Authenticate": scheme})
            if not self.ctx.complete:
                return self.reply(401, b"", {"WWW-Authenticate": prefix + base64.b64encode(out).decode()})
            # gss-ntlmssp's display name ends in a NUL.
            self.user = str(self.ctx.initiator_name).rstrip("\x00")
            self.ctx = None
            self.ok(body)

        do_GET = do_POST = do_PUT = handle_any

        def ok(self, body):
            data = json.dumps({"user": self.user, "body": body.decode("utf-8", "replace")}).encode()
            self.reply(200, data, {"Content-Type": "application/json"})

        def reply(self, status, data, headers):
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt, *args):
            sys.stderr.write("ntlm-acceptor: " + (fmt % args) + "\n")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()


if __name__ == "__main__":
    main()
