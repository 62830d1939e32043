#!/usr/bin/env python3
"""connflood.py - many TCP connections to stirwired, held open, for limits.sh.

Opens --per connections from each of --nsources source addresses starting at --first
(127.0.0.X, X counting up), optionally sends each a half message (--partial BYTES: a
request whose Content-Length promises more than is sent), optionally keeps one more
connection trickling one byte of a half message every 0.3 s (--trickle), and then holds
them all until SIGTERM. Every 0.3 s it rewrites --status with one line:

    opened N held H closed C trickle open|closed

where held are the connections still open and closed those stirwired closed (refused
after the accept, or dropped at the partial-message deadline).
"""
import argparse
import ipaddress
import os
import resource
import signal
import socket
import time


def half_message(size):
    head = (
        "INVITE sip:12025550199@x SIP/2.0\r\n"
        "Via: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKhalf\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:1@x>;tag=a\r\nTo: <sip:2@x>\r\n"
        "Call-ID: half@x\r\nCSeq: 1 INVITE\r\n"
        f"Content-Length: {size + 1000}\r\n\r\n"
    ).encode()
    return head + b"v" * max(0, size - len(head))


def is_closed(s):
    try:
        data = s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        return data == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proxy", required=True)
    ap.add_argument("--first", required=True, help="first source address, e.g. 127.0.0.20")
    ap.add_argument("--nsources", type=int, default=1)
    ap.add_argument("--per", type=int, required=True)
    ap.add_argument("--partial", type=int, default=0)
    ap.add_argument("--trickle", action="store_true")
    ap.add_argument("--status", required=True)
    args = ap.parse_args()
    host, port = args.proxy.rsplit(":", 1)
    need = args.nsources * args.per + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    first = ipaddress.IPv4Address(args.first)
    socks = []
    payload = half_message(args.partial) if args.partial else b""
    for i in range(args.nsources):
        src = str(first + i)
        for _ in range(args.per):
            s = socket.socket()
            s.bind((src, 0))
            s.settimeout(3)
            try:
                s.connect((host, int(port)))
                if payload:
                    s.sendall(payload)
            except OSError:
                s.close()
                continue
            s.setblocking(False)
            socks.append(s)
    trickle = None
    if args.trickle:
        trickle = socket.socket()
        trickle.bind((str(first), 0))
        trickle.connect((host, int(port)))
        trickle.setblocking(False)
        tbytes = half_message(2000)
        tpos = 0
    trickle_open = trickle is not None
    while not stop:
        if trickle_open:
            try:
                trickle.send(tbytes[tpos : tpos + 1])
                tpos = (tpos + 1) % len(tbytes)
            except OSError:
                trickle_open = False
            if trickle_open and is_closed(trickle):
                trickle_open = False
        closed = sum(1 for s in socks if is_closed(s))
        line = (
            f"opened {len(socks)} held {len(socks) - closed} closed {closed} "
            f"trickle {'open' if trickle_open else 'closed'}\n"
        )
        tmp = args.status + ".tmp"
        with open(tmp, "w") as f:
            f.write(line)
        os.replace(tmp, args.status)
        time.sleep(0.3)


if __name__ == "__main__":
    main()
