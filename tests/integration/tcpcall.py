#!/usr/bin/env python3
"""tcpcall.py - SIP peers that behave as RFC 3261 TCP clients do, for tcp_responses.sh.

sipp's Via names the port it listens on, so it cannot show what a real TCP client does:
it connects from an ephemeral port while its Via, without rport, names a port where
nothing listens (or where it listens for new connections). Its responses must come back
on the connection it opened (RFC 3261 section 18.2.2). Each scenario runs a whole call
(INVITE, 180, 200, ACK, BYE, 200) through stirwired with such a client on one or both
sides, and prints one "ok   - ..." or "FAIL - ..." line a step (the shell counts them).

Scenarios (--scenario):
  tcp-udp   caller over TCP (ephemeral port, Via port dead, no rport), callee over UDP
  udp-tcp   caller over UDP, callee over TCP: stirwired connects to the callee; the
            callee's BYE leaves on a new connection from an ephemeral port (Via port
            dead, no rport) and its 200 must come back on that connection
  tcp-tcp   both of the above sides together
  udp-udp   both over UDP (a call that needs no new descriptor in stirwired)
  tcp-closed  the caller closes its connection after the INVITE and listens on its Via
            port: the responses must come on a new connection to that port
"""
import argparse
import random
import select
import socket
import sys
import time

TIMEOUT = 5.0


def say(ok, what):
    print(("ok   - " if ok else "FAIL - ") + what, flush=True)
    return ok


class Stream:
    """A TCP connection that hands out whole SIP messages (Content-Length framing)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send(self, msg):
        self.sock.sendall(msg)

    def read(self, timeout=TIMEOUT):
        end = time.time() + timeout
        while True:
            self.buf = self.buf.lstrip(b"\r\n")
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end >= 0:
                clen = 0
                for line in self.buf[:head_end].split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() in (b"content-length", b"l"):
                        clen = int(value.strip())
                total = head_end + 4 + clen
                if len(self.buf) >= total:
                    msg, self.buf = self.buf[:total], self.buf[total:]
                    return msg
            left = end - time.time()
            if left <= 0:
                return None
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return None
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data


class Dgram:
    def __init__(self, ip, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, port))
        self.peer = None

    def send(self, msg, to=None):
        self.sock.sendto(msg, to or self.peer)

    def read(self, timeout=TIMEOUT):
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return None
        data, self.peer = self.sock.recvfrom(65536)
        return data


def headers(msg, name):
    out = []
    for line in msg.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        n, _, v = line.partition(b":")
        if n.strip().lower() == name:
            out.append(line)
    return out


def first_line(msg):
    return msg.split(b"\r\n", 1)[0].decode(errors="replace") if msg else "nothing"


def dead_port():
    """A port on which nothing listens (bound then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def request(method, ruri, via, call_id, cseq, from_tag, to_tag=""):
    to = b"<sip:12025550199@x>" + (b";tag=" + to_tag if to_tag else b"")
    return (
        method + b" " + ruri + b" SIP/2.0\r\n"
        b"Via: " + via + b"\r\n"
        b"Max-Forwards: 70\r\n"
        b"From: <sip:12025550100@x>;tag=" + from_tag + b"\r\n"
        b"To: " + to + b"\r\n"
        b"Call-ID: " + call_id + b"\r\n"
        b"CSeq: " + str(cseq).encode() + b" " + method + b"\r\n"
        b"Contact: <sip:12025550100@127.0.0.1>\r\n"
        b"Content-Length: 0\r\n\r\n"
    )


def response(req, status, reason, to_tag):
    lines = [b"SIP/2.0 " + str(status).encode() + b" " + reason]
    lines += headers(req, b"via") + headers(req, b"v")
    lines += headers(req, b"from")
    for t in headers(req, b"to"):
        lines.append(t if b"tag=" in t else t + b";tag=" + to_tag)
    lines += headers(req, b"call-id") + headers(req, b"cseq")
    lines += [b"Content-Length: 0", b"", b""]
    return b"\r\n".join(lines)


def branch():
    return b"z9hG4bK" + str(random.getrandbits(48)).encode()


def tcp_connect(src_ip, proxy):
    s = socket.socket()
    s.bind((src_ip, 0))  # an ephemeral port, as every TCP client has
    s.settimeout(TIMEOUT)
    s.connect(proxy)
    s.settimeout(None)
    return Stream(s)


def expect(what, msg, start):
    return say(msg is not None and msg.startswith(start), f"{what}: got {first_line(msg)}")


def run(args):
    proxy = (args.proxy.split(":")[0], int(args.proxy.split(":")[1]))
    sc = args.scenario
    caller_tcp = sc in ("tcp-udp", "tcp-tcp", "tcp-closed")
    callee_tcp = sc in ("udp-tcp", "tcp-tcp")
    call_id = f"{sc}-{random.getrandbits(32)}@test".encode()
    ftag, ttag = b"caller1", b"callee1"
    # --- the callee
    if callee_tcp:
        lst = socket.socket()
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lst.bind((args.callee_ip, args.callee_port))
        lst.listen(4)
    else:
        uas = Dgram(args.callee_ip, args.callee_port)
    # --- the caller
    listen_back = None
    if caller_tcp:
        if sc == "tcp-closed":
            listen_back = socket.socket()
            listen_back.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listen_back.bind((args.caller_ip, 0))
            listen_back.listen(4)
            via_port = listen_back.getsockname()[1]
        else:
            via_port = dead_port()
        uac = tcp_connect(args.caller_ip, proxy)
        via = f"SIP/2.0/TCP {args.caller_ip}:{via_port}".encode()
    else:
        uac = Dgram(args.caller_ip, args.caller_port)
        uac.peer = proxy
        via = f"SIP/2.0/UDP {args.caller_ip}:{args.caller_port}".encode()
    ruri = b"sip:12025550199@" + args.callee_ip.encode()
    inv = request(b"INVITE", ruri, via + b";branch=" + branch(), call_id, 1, ftag)
    uac.send(inv)
    if sc == "tcp-closed":
        uac.sock.close()
    # the callee gets the INVITE
    if callee_tcp:
        r, _, _ = select.select([lst], [], [], TIMEOUT)
        if not r:
            return say(False, f"{sc}: the callee got no connection from stirwired")
        uas = Stream(lst.accept()[0])
    got = uas.read()
    if not expect(f"{sc}: the callee received the INVITE", got, b"INVITE "):
        return False
    uas.send(response(got, 180, b"Ringing", ttag))
    uas.send(response(got, 200, b"OK", ttag))
    if sc == "tcp-closed":
        r, _, _ = select.select([listen_back], [], [], TIMEOUT)
        if not r:
            return say(False, f"{sc}: no connection to the caller's Via port after it closed")
        uac = Stream(listen_back.accept()[0])
        say(True, f"{sc}: stirwired connected to the caller's Via port for the responses")
    got = uac.read()
    if not expect(f"{sc}: the caller received the 180", got, b"SIP/2.0 180"):
        return False
    got = uac.read()
    if not expect(f"{sc}: the caller received the 200", got, b"SIP/2.0 200"):
        return False
    if sc == "tcp-closed":
        return True  # the rest is the other scenarios' business
    # ACK and BYE from the caller
    uac.send(request(b"ACK", ruri, via + b";branch=" + branch(), call_id, 1, ftag, ttag))
    got = uas.read()
    if not expect(f"{sc}: the callee received the ACK", got, b"ACK "):
        return False
    bye = request(b"BYE", ruri, via + b";branch=" + branch(), call_id, 2, ftag, ttag)
    uac.send(bye)
    got = uas.read()
    if not expect(f"{sc}: the callee received the caller's BYE", got, b"BYE "):
        return False
    uas.send(response(got, 200, b"OK", ttag))
    got = uac.read()
    if not expect(f"{sc}: the caller received the 200 for its BYE", got, b"SIP/2.0 200"):
        return False
    if not callee_tcp or caller_tcp:
        return True  # a TCP caller listens nowhere: stirwired could not send it a request
    # The callee's own request (a BYE of a second call leg would do; in-dialog here) on a
    # new connection from an ephemeral port, Via naming a dead port and no rport.
    call2 = call_id + b"-2"
    cvia = f"SIP/2.0/TCP {args.callee_ip}:{dead_port()}".encode()
    conn2 = tcp_connect(args.callee_ip, proxy)
    curi = b"sip:12025550100@" + args.caller_ip.encode()
    conn2.send(request(b"BYE", curi, cvia + b";branch=" + branch(), call2, 5, ttag, ftag))
    got = uac.read()
    if not expect(f"{sc}: the caller received the callee's BYE", got, b"BYE "):
        return False
    uac.send(response(got, 200, b"OK", b"x"))
    got = conn2.read()
    return expect(
        f"{sc}: the callee received the 200 for its BYE on the connection it opened",
        got,
        b"SIP/2.0 200",
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", required=True,
                    choices=["tcp-udp", "udp-tcp", "tcp-tcp", "udp-udp", "tcp-closed"])
    ap.add_argument("--proxy", required=True)
    ap.add_argument("--caller-ip", required=True)
    ap.add_argument("--caller-port", type=int, default=0)
    ap.add_argument("--callee-ip", required=True)
    ap.add_argument("--callee-port", type=int, required=True)
    args = ap.parse_args()
    try:
        ok = run(args)
    except OSError as e:
        ok = say(False, f"{args.scenario}: {e}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
