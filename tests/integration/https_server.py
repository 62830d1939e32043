#!/usr/bin/env python3
"""https_server.py - a local HTTPS (or HTTP) server that plays the x5u / CRL host in
integration tests: it serves the files of a test PKI (tools/pki/make-test-pki.sh) and a
few misbehaving endpoints, and counts every request so a test can assert "exactly one
fetch" after a cache should have answered.

Usage:
  https_server.py --dir DIR --cert tls-server.pem --key tls-server.key --port N
                  [--host 127.0.0.1] [--log FILE] [--http] [--slow-ms N]

  --port 0 picks a free port. Whatever the port, once the socket listens the server
  prints one line "PORT <n>" on stdout (flushed), so a test can read it.
  --http serves plain HTTP (--cert/--key then not needed).
  --slow-ms N is the delay of the /slow/ paths (default 5000).

Paths (query strings are ignored for files):
  /<file>                          a file from DIR (no directory listings, no "..")
  /404, /500                       that status
  /slow?ms=N                       sleeps N ms, then serves DIR/sp-chain.pem
  /slow/<file>                     sleeps --slow-ms, then serves DIR/<file> (an x5u that
                                   is slow without a query string, which the default
                                   fetch policy refuses)
  /big?bytes=N                     200, N bytes of 'A', streamed in 64 KiB pieces
  /redirect                        302 to /sp-chain.pem
  /garbage                         200, 512 random bytes (application/x-pem-file)
  /cachecontrol?max_age=N&file=X   DIR/X with "Cache-Control: max-age=N"
  /expires?secs=N&file=X           DIR/X with an Expires header N seconds from now
  /count                           JSON {path: requests so far}; /count and /reset
                                   themselves are not counted
  /reset                           zeroes the counts

Rule: it binds only to loopback addresses; it is a test fixture, never a file server.
Python 3 standard library only. SIGTERM and SIGINT stop it cleanly (exit 0).
"""

import argparse
import email.utils
import ipaddress
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

CONTENT_TYPES = {
    ".pem": "application/x-pem-file",
    ".crl": "application/pkix-crl",
    ".der": "application/pkix-cert",
    ".json": "application/json",
    ".txt": "text/plain",
}


class Counter:
    """Requests per path (without the query), shared by the handler threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}

    def add(self, path):
        with self.lock:
            self.counts[path] = self.counts.get(path, 0) + 1

    def snapshot(self):
        with self.lock:
            return dict(self.counts)

    def reset(self):
        with self.lock:
            self.counts.clear()


class Handler(BaseHTTPRequestHandler):
    server_version = "stirwire-test-https/1"
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a silent client may hold a connection (and a thread)

    # --- plumbing ---------------------------------------------------------------------

    def log_message(self, fmt, *args):
        line = "%s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), fmt % args)
        log = self.server.log
        with self.server.log_lock:
            log.write(line)
            log.flush()

    def send_body(self, status, body, ctype="application/octet-stream", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_status(self, status):
        self.send_body(status, ("%d\n" % status).encode(), "text/plain")

    def read_file(self, name):
        """Bytes of DIR/name, or None when it does not exist or leaves DIR."""
        root = self.server.root
        path = os.path.realpath(os.path.join(root, name.lstrip("/")))
        if not path.startswith(root + os.sep) or not os.path.isfile(path):
            return None, None
        with open(path, "rb") as f:
            data = f.read()
        ext = ".crl" if path.endswith(".crl.der") else os.path.splitext(path)[1]
        return data, CONTENT_TYPES.get(ext, "application/octet-stream")

    def send_file(self, name, headers=()):
        data, ctype = self.read_file(name)
        if data is None:
            self.send_status(404)
        else:
            self.send_body(200, data, ctype, headers)

    # --- requests ---------------------------------------------------------------------

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        url = urlsplit(self.path)
        path = unquote(url.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}

        def num(name, default=0):
            try:
                return max(0, int(query.get(name, default)))
            except ValueError:
                return default

        if path == "/count":
            body = json.dumps(self.server.counter.snapshot(), sort_keys=True).encode() + b"\n"
            self.send_body(200, body, "application/json")
            return
        if path == "/reset":
            self.server.counter.reset()
            self.send_body(200, b"{}\n", "application/json")
            return
        self.server.counter.add(path)

        if path == "/404":
            self.send_status(404)
        elif path == "/500":
            self.send_status(500)
        elif path == "/slow":
            time.sleep(num("ms") / 1000.0)
            self.send_file("sp-chain.pem")
        elif path.startswith("/slow/"):
            time.sleep(self.server.slow_ms / 1000.0)
            self.send_file(path[len("/slow"):])
        elif path == "/big":
            self.send_big(num("bytes"))
        elif path == "/redirect":
            self.send_body(302, b"", "text/plain", [("Location", "/sp-chain.pem")])
        elif path == "/garbage":
            self.send_body(200, os.urandom(512), "application/x-pem-file")
        elif path == "/cachecontrol":
            self.send_file(query.get("file", "sp-chain.pem"),
                           [("Cache-Control", "max-age=%d" % num("max_age"))])
        elif path == "/expires":
            when = email.utils.formatdate(time.time() + num("secs"), usegmt=True)
            self.send_file(query.get("file", "sp-chain.pem"), [("Expires", when)])
        else:
            self.send_file(path)

    def send_big(self, size):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        if self.command == "HEAD":
            return
        chunk = b"A" * 65536
        try:
            while size > 0:
                n = min(size, len(chunk))
                self.wfile.write(chunk[:n])
                size -= n
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            # The client under test is expected to give up on a body this big.
            self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A client that hangs up mid-handshake is normal in tests that probe limits.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ssl.SSLError, ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", required=True, help="directory whose files are served")
    ap.add_argument("--cert", help="TLS server certificate (PEM)")
    ap.add_argument("--key", help="TLS server key (PEM)")
    ap.add_argument("--port", type=int, required=True, help="port; 0 picks a free one")
    ap.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    ap.add_argument("--log", help="append request lines here (default: stderr)")
    ap.add_argument("--http", action="store_true", help="plain HTTP, no TLS")
    ap.add_argument("--slow-ms", type=int, default=5000,
                    help="delay of the /slow/<file> paths in ms (default 5000)")
    args = ap.parse_args()

    try:
        if not ipaddress.ip_address(args.host).is_loopback:
            ap.error("--host must be a loopback address, got %s" % args.host)
    except ValueError:
        ap.error("--host must be an IP address, got %s" % args.host)
    if not args.http and not (args.cert and args.key):
        ap.error("--cert and --key are required unless --http")
    if not os.path.isdir(args.dir):
        ap.error("--dir %s is not a directory" % args.dir)

    Server.address_family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    httpd = Server((args.host, args.port), Handler)
    httpd.root = os.path.realpath(args.dir)
    httpd.counter = Counter()
    httpd.slow_ms = max(0, args.slow_ms)
    httpd.log = open(args.log, "a") if args.log else sys.stderr
    httpd.log_lock = threading.Lock()

    if not args.http:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(args.cert, args.key)
        # The handshake then happens in the handler's thread on its first read, so a
        # client that stalls mid-handshake cannot block accept() for everyone else.
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True,
                                       do_handshake_on_connect=False)

    def stop(signum, frame):
        # shutdown() waits for serve_forever() to return, so it must run elsewhere.
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    port = httpd.server_address[1]
    print("PORT %d" % port, flush=True)
    httpd.log.write("listening on %s port %d (%s), serving %s\n"
                    % (args.host, port, "http" if args.http else "https", httpd.root))
    httpd.log.flush()
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
        if httpd.log is not sys.stderr:
            httpd.log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
