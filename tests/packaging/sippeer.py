#!/usr/bin/env python3
"""sippeer.py - the peers tests/packaging/deb.sh needs around an installed stirwired.

  sippeer.py freeport udp LOW HIGH     prints a UDP port of 127.0.0.1 free in LOW..HIGH
  sippeer.py uas PORT                  answers every request on 127.0.0.1:PORT with 200 OK
                                       (Via, From, To, Call-ID, CSeq copied) until killed;
                                       prints "ready" once bound
  sippeer.py notify NAME FILE          binds the sd_notify socket NAME ('@' = abstract) as
                                       systemd does; appends each datagram to FILE, its
                                       lines joined by spaces, one datagram a line;
                                       prints "ready" once bound
  sippeer.py options DPORT MAXFWD      sends an OPTIONS from 127.0.0.1 to 127.0.0.1:DPORT
                                       and prints the status line of the final answer
                                       (or "timeout" after 3 s)
Python's standard library only, so the test needs nothing beyond python3.
"""
import random
import socket
import sys
import time


def freeport(low, high):
    ports = list(range(low, high + 1))
    random.shuffle(ports)
    for p in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", p))
            t.bind(("127.0.0.1", p))  # the listener takes TCP too when asked
            print(p)
            return 0
        except OSError:
            continue
        finally:
            s.close()
            t.close()
    return 1


def uas(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    print("ready", flush=True)
    while True:
        data, src = s.recvfrom(65535)
        head = data.decode("utf-8", "replace").split("\r\n\r\n", 1)[0].split("\r\n")
        if not head or head[0].startswith("SIP/2.0"):
            continue
        keep = [h for h in head[1:] if h.split(":", 1)[0].strip().lower()
                in ("via", "v", "from", "f", "to", "t", "call-id", "i", "cseq")]
        keep = [h + ";tag=uas1" if h.lower().startswith(("to:", "t:")) and "tag=" not in h
                else h for h in keep]
        resp = "SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n"
        s.sendto(resp.encode(), src)


def notify(name, path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("\0" + name[1:] if name.startswith("@") else name)
    print("ready", flush=True)
    while True:
        data = s.recv(4096)
        with open(path, "a") as f:
            f.write(data.decode("utf-8", "replace").replace("\n", " ") + "\n")


def options(dport, maxfwd):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    branch = "z9hG4bK" + "%08x" % random.getrandbits(32)
    msg = ("OPTIONS sip:ping@127.0.0.1 SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
           "Max-Forwards: %d\r\n"
           "From: <sip:deb@127.0.0.1>;tag=deb1\r\n"
           "To: <sip:ping@127.0.0.1>\r\n"
           "Call-ID: deb-%s@127.0.0.1\r\n"
           "CSeq: 1 OPTIONS\r\n"
           "Content-Length: 0\r\n\r\n") % (port, branch, maxfwd, branch)
    s.sendto(msg.encode(), ("127.0.0.1", dport))
    deadline = time.time() + 3
    while time.time() < deadline:
        s.settimeout(max(0.01, deadline - time.time()))
        try:
            data = s.recv(65535)
        except socket.timeout:
            break
        line = data.decode("utf-8", "replace").split("\r\n", 1)[0]
        if line.startswith("SIP/2.0 1"):
            continue  # provisional: wait for the final answer
        print(line)
        return 0
    print("timeout")
    return 1


def main(argv):
    if len(argv) == 5 and argv[1] == "freeport":
        return freeport(int(argv[3]), int(argv[4]))
    if len(argv) == 3 and argv[1] == "uas":
        return uas(int(argv[2]))
    if len(argv) == 4 and argv[1] == "notify":
        return notify(argv[2], argv[3])
    if len(argv) == 4 and argv[1] == "options":
        return options(int(argv[2]), int(argv[3]))
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
