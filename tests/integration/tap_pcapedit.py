#!/usr/bin/env python3
"""tap_pcapedit.py - reads and edits the captures of tap_capture.sh, tap_live.sh and
tap_hep.sh (python3 stdlib only), so that a test can spoil one call of a real capture
and know which: a classic pcap (microsecond or nanosecond, either byte order) of
Ethernet (tcpdump/dumpcap on Linux lo), Linux cooked v1/v2 or raw IP frames, IPv4 or
IPv6, SIP over UDP in one datagram each.

  invites FILE                  one line per INVITE frame: "INDEX<TAB>CALL-ID<TAB>TS"
                                (INDEX: the record's number from 0; TS: seconds.micro)
  calls FILE                    the Call-IDs of the INVITEs, each once, in order of
                                first appearance
  tamper IN OUT N               the Nth call's (1-based, in `calls` order) Identity
                                signature has one character changed, same length, in
                                every copy of its INVITE; the UDP checksum is fixed up.
                                Prints the Call-ID.
  shift IN OUT N SECONDS        every record of the Nth call's INVITE gets SECONDS later
                                and moves to the end of the file, which stays in time
                                order. Prints the Call-ID.
  send IN N --call-id ID [--tamper] [--size BYTES] [--to HOST:PORT] [--src ADDR]
                                the Nth call's INVITE (its UDP payload), with Call-ID ID
                                and a fresh top Via branch (so that it is a new call),
                                optionally its signature spoilt and headers X-Pad added
                                until it is BYTES long, sent as one UDP datagram (from
                                ADDR, default 127.0.0.1) to HOST:PORT (default
                                127.0.0.1:5099, where nothing needs to listen: a capture
                                sees it anyway). A datagram over the MTU is fragmented by
                                the kernel.

Exit 0, or 1 with the reason on stderr (a file that is no pcap, no such call, no Identity).
"""
import os
import re
import socket
import struct
import sys

LINK_ETH, LINK_RAW, LINK_SLL, LINK_SLL2 = 1, 101, 113, 276


class Pcap:
    """A classic pcap file in memory: its global header and its records, each a list
    [ts_sec, ts_frac, orig_len, data]."""

    def __init__(self, path):
        with open(path, "rb") as f:
            buf = f.read()
        if len(buf) < 24:
            raise ValueError("%s: too short for a pcap file" % path)
        magic = buf[:4]
        if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
            self.e = "<"
        elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
            self.e = ">"
        else:
            raise ValueError("%s: not a classic pcap file (magic %s)" % (path, magic.hex()))
        self.nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
        self.header = buf[:24]
        self.linktype = struct.unpack(self.e + "I", buf[20:24])[0] & 0x0FFFFFFF
        self.records = []
        off = 24
        while off + 16 <= len(buf):
            ts, frac, incl, orig = struct.unpack(self.e + "IIII", buf[off:off + 16])
            data = buf[off + 16:off + 16 + incl]
            if len(data) < incl:
                raise ValueError("%s: record %d is cut short" % (path, len(self.records)))
            self.records.append([ts, frac, orig, bytearray(data)])
            off += 16 + incl

    def write(self, path):
        with open(path, "wb") as f:
            f.write(self.header)
            for ts, frac, orig, data in self.records:
                f.write(struct.pack(self.e + "IIII", ts, frac, len(data), orig))
                f.write(data)

    def seconds(self, rec):
        return rec[0] + rec[1] / (1e9 if self.nano else 1e6)


def ip_offset(linktype, data):
    """Offset of the IP header in a frame, or None."""
    if linktype == LINK_ETH:
        off, et = 12, None
        while off + 2 <= len(data):
            et = struct.unpack(">H", data[off:off + 2])[0]
            if et in (0x8100, 0x88A8, 0x9100):
                off += 4
                continue
            break
        return off + 2 if et in (0x0800, 0x86DD) else None
    if linktype == LINK_SLL:
        return 16
    if linktype == LINK_SLL2:
        return 20
    if linktype in (LINK_RAW, 12, 228, 229):
        return 0
    return None


def udp_of(linktype, data):
    """(ip_off, udp_off, payload_off, is_v6) of an unfragmented UDP frame, or None."""
    ip = ip_offset(linktype, data)
    if ip is None or ip >= len(data):
        return None
    v = data[ip] >> 4
    if v == 4:
        ihl = (data[ip] & 15) * 4
        if data[ip + 9] != 17:
            return None
        flags_frag = struct.unpack(">H", data[ip + 6:ip + 8])[0]
        if flags_frag & 0x3FFF:  # a fragment: not ours to edit
            return None
        udp = ip + ihl
        return ip, udp, udp + 8, False
    if v == 6:
        if data[ip + 6] != 17:
            return None
        udp = ip + 40
        return ip, udp, udp + 8, True
    return None


def checksum16(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def fix_udp_checksum(data, where):
    """Recomputes the UDP checksum in place (IPv4: left 0 when it was 0)."""
    ip, udp, _, v6 = where
    ulen = struct.unpack(">H", data[udp + 4:udp + 6])[0]
    if not v6 and data[udp + 6:udp + 8] == b"\0\0":
        return
    data[udp + 6:udp + 8] = b"\0\0"
    if v6:
        pseudo = bytes(data[ip + 8:ip + 40]) + struct.pack(">IxxxB", ulen, 17)
    else:
        pseudo = bytes(data[ip + 12:ip + 20]) + struct.pack(">xBH", 17, ulen)
    c = 0xFFFF - checksum16(pseudo + bytes(data[udp:udp + ulen]))
    data[udp + 6:udp + 8] = struct.pack(">H", c if c != 0 else 0xFFFF)


CALL_ID = re.compile(rb"^(?:Call-ID|i)[ \t]*:[ \t]*([^\r\n]*)", re.I | re.M)
IDENTITY = re.compile(rb"^(?:Identity|y)[ \t]*:[ \t]*([^\r\n;]*)", re.I | re.M)
BRANCH = re.compile(rb"branch=([^;,\s]+)")


def invites(p):
    """[(index, call_id, where)] of the UDP INVITE frames, in file order."""
    out = []
    for i, rec in enumerate(p.records):
        w = udp_of(p.linktype, rec[3])
        if w is None:
            continue
        payload = bytes(rec[3][w[2]:])
        if not payload.startswith(b"INVITE "):
            continue
        m = CALL_ID.search(payload)
        out.append((i, m.group(1).strip().decode("latin-1") if m else "", w))
    return out


def nth_call(p, n):
    seen = []
    for _, cid, _ in invites(p):
        if cid not in seen:
            seen.append(cid)
    if n < 1 or n > len(seen):
        raise ValueError("there is no call %d: the capture has %d" % (n, len(seen)))
    return seen[n - 1]


def spoil(payload):
    """The payload with one character of the first Identity's signature changed."""
    m = IDENTITY.search(payload)
    if m is None:
        raise ValueError("the INVITE has no Identity header")
    jwt = m.group(1)
    parts = jwt.split(b".")
    if len(parts) != 3 or len(parts[2]) < 8:
        raise ValueError("the Identity is no full-form JWT: %r" % jwt[:80])
    # the middle of the signature: decoded, a different byte in r or s, same length
    pos = m.start(1) + len(parts[0]) + 1 + len(parts[1]) + 1 + len(parts[2]) // 2
    old = payload[pos:pos + 1]
    new = b"B" if old == b"A" else b"A"
    return payload[:pos] + new + payload[pos + 1:]


def cmd_invites(p, _args):
    for i, cid, _ in invites(p):
        print("%d\t%s\t%.6f" % (i, cid, p.seconds(p.records[i])))


def cmd_calls(p, _args):
    seen = []
    for _, cid, _ in invites(p):
        if cid not in seen:
            seen.append(cid)
            print(cid)


def cmd_tamper(p, args):
    out, n = args[0], int(args[1])
    cid = nth_call(p, n)
    for i, c, w in invites(p):
        if c != cid:
            continue
        data = p.records[i][3]
        payload = spoil(bytes(data[w[2]:]))
        data[w[2]:] = payload
        fix_udp_checksum(data, w)
    p.write(out)
    print(cid)


def cmd_shift(p, args):
    out, n, secs = args[0], int(args[1]), int(args[2])
    cid = nth_call(p, n)
    moved = []
    for i, c, _ in invites(p):
        if c == cid:
            moved.append(i)
    recs = [r for i, r in enumerate(p.records) if i not in moved]
    last = max((p.seconds(r) for r in recs), default=0)
    for i in moved:
        r = p.records[i]
        r[0] += secs
        if p.seconds(r) < last:  # keeps the file in time order
            raise ValueError("shifting by %d s does not put call %d last" % (secs, n))
        recs.append(r)
    p.records = recs
    p.write(out)
    print(cid)


def cmd_send(p, args):
    n = int(args[0])
    opts = {"--call-id": None, "--size": "0", "--to": "127.0.0.1:5099", "--src": "127.0.0.1"}
    tamper = False
    k = 1
    while k < len(args):
        if args[k] == "--tamper":
            tamper = True
            k += 1
        elif args[k] in opts and k + 1 < len(args):
            opts[args[k]] = args[k + 1]
            k += 2
        else:
            raise ValueError("send: unknown argument %s" % args[k])
    if not opts["--call-id"]:
        raise ValueError("send: --call-id is required")
    cid = nth_call(p, n)
    for i, c, w in invites(p):
        if c == cid:
            payload = bytes(p.records[i][3][w[2]:])
            break
    m = CALL_ID.search(payload)
    payload = payload[:m.start(1)] + opts["--call-id"].encode() + payload[m.end(1):]
    m = BRANCH.search(payload)
    if m:
        fresh = b"z9hG4bK-tap-" + os.urandom(6).hex().encode()
        payload = payload[:m.start(1)] + fresh + payload[m.end(1):]
    if tamper:
        payload = spoil(payload)
    size = int(opts["--size"])
    head, sep, body = payload.partition(b"\r\n\r\n")
    while size and len(head) + len(sep) + len(body) < size:
        want = size - (len(head) + len(sep) + len(body)) - 9  # "\r\nX-Pad: "
        head += b"\r\nX-Pad: " + b"p" * max(1, min(200, want))
    payload = head + sep + body
    host, port = opts["--to"].rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((opts["--src"], 0))
    s.sendto(payload, (host, int(port)))
    s.close()
    print("%s\t%d" % (opts["--call-id"], len(payload)))


def main(argv):
    cmds = {"invites": (cmd_invites, 0), "calls": (cmd_calls, 0), "tamper": (cmd_tamper, 2),
            "shift": (cmd_shift, 3), "send": (cmd_send, 1)}
    if len(argv) < 3 or argv[1] not in cmds or len(argv) - 3 < cmds[argv[1]][1]:
        sys.stderr.write(__doc__)
        return 1
    try:
        p = Pcap(argv[2])
        cmds[argv[1]][0](p, argv[3:])
    except (ValueError, OSError) as e:
        sys.stderr.write("tap_pcapedit.py: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
