#!/usr/bin/env python3
"""mkcorpus_tap.py - writes the seeds of fuzz_tap (tests/fuzz/fuzz_tap.c) into
tests/fuzz/corpus/tap/: a few captures in the target's input format (a link type byte,
then frames as "dt len_hi len_lo bytes"), each built here from a SIP INVITE: UDP over
Ethernet, VLAN/QinQ, SLL, SLL2, loopback and raw IP, IPv4 and IPv6 fragments (one out of
order), IPv6 extension headers, and TCP streams (two messages in a segment, one message
over segments out of order, a retransmission, a gap).

    tests/fuzz/mkcorpus_tap.py [DIR]
"""
import os
import struct
import sys

INVITE = (b"INVITE sip:+12025550100@example.com SIP/2.0\r\n"
          b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1\r\n"
          b"From: <sip:+12025550199@example.com>;tag=1\r\n"
          b"To: <sip:+12025550100@example.com>\r\n"
          b"Call-ID: 1@192.0.2.1\r\nCSeq: 1 INVITE\r\nContent-Length: 10\r\n\r\n01234567\r\n")
TRYING = (b"SIP/2.0 100 Trying\r\nVia: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK-1\r\n"
          b"Call-ID: 1@192.0.2.1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
A4, B4 = bytes([192, 0, 2, 1]), bytes([198, 51, 100, 7])
A6, B6 = bytes.fromhex("20010db8" + "00" * 11 + "01"), bytes.fromhex("20010db8" + "00" * 11 + "02")

# the fuzz target's link type table: index -> linktype
LT = {"eth": 0, "sll": 1, "sll2": 2, "null": 3, "loop": 4, "raw": 5, "raw101": 6, "ipv4": 7,
      "ipv6": 8}


def udp(pl, sport=5060, dport=5060):
    return struct.pack(">HHHH", sport, dport, 8 + len(pl), 0) + pl


def tcp(seq, pl, flags=0x10, sport=40000, dport=5060):
    return struct.pack(">HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0) + pl


def ip4(proto, l4, ident=1, fo=0x4000):
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), ident, fo, 64, proto, 0, A4,
                       B4) + l4


def ip6(nh, rest):
    return struct.pack(">IHBB16s16s", 6 << 28, len(rest), nh, 64, A6, B6) + rest


def eth(ip, tags=()):
    et = 0x86DD if ip[0] >> 4 == 6 else 0x0800
    h = b"\xaa" * 12
    for tpid in tags:
        h += struct.pack(">HH", tpid, 100)
    return h + struct.pack(">H", et) + ip


def sll(ip):
    et = 0x86DD if ip[0] >> 4 == 6 else 0x0800
    return struct.pack(">HHH8sH", 0, 1, 6, b"", et) + ip


def sll2(ip):
    et = 0x86DD if ip[0] >> 4 == 6 else 0x0800
    return struct.pack(">HHIHBB8s", et, 0, 1, 1, 0, 6, b"") + ip


def capture(lt, frames, dt=1):
    out = bytes([LT[lt]])
    for f in frames:
        out += struct.pack(">BH", dt, len(f)) + f
    return out


def frags4(dg, ident):
    cuts = [0, 104, 200, len(dg)]
    out = []
    for k in range(3):
        fo = cuts[k] // 8 | (0x2000 if k < 2 else 0)
        out.append(ip4(17, dg[cuts[k]:cuts[k + 1]], ident, fo))
    return out


def frags6(dg, ident):
    cuts = [0, 104, 200, len(dg)]
    out = []
    for k in range(3):
        fh = struct.pack(">BBHI", 17, 0, cuts[k] | (1 if k < 2 else 0), ident)
        out.append(ip6(44, fh + dg[cuts[k]:cuts[k + 1]]))
    return out


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__),
                                                          "corpus", "tap")
    os.makedirs(d, exist_ok=True)
    u = udp(INVITE)
    two = INVITE + TRYING
    ext = bytes([43, 0]) + b"\0" * 6 + bytes([60, 1]) + b"\0" * 14 + bytes([17, 0]) + b"\0" * 6
    seeds = {
        "udp_eth": capture("eth", [eth(ip4(17, u))]),
        "udp_qinq_v6": capture("eth", [eth(ip6(17, u), (0x88A8, 0x8100))]),
        "udp_sll": capture("sll", [sll(ip4(17, u)), sll(ip6(17, u))]),
        "udp_null_v6": capture("null", [struct.pack("<I", 30) + ip6(17, u),
                                        struct.pack("<I", 2) + ip4(17, u)]),
        "udp_loop": capture("loop", [struct.pack(">I", 24) + ip6(17, u)]),
        "udp_raw_ext": capture("raw", [ip6(0, ext + u), ip4(17, u)]),
        "frag4": capture("raw101", [f for f in reversed(frags4(u, 7))] + frags4(u, 8)[:2]),
        "frag6": capture("ipv6", frags6(u, 9) + frags6(u, 10)[1:]),
        "tcp_two_in_one": capture("sll2", [
            sll2(ip4(6, tcp(999, b"", 0x02))),
            sll2(ip4(6, tcp(1000, two))),
            sll2(ip4(6, tcp(1000 + len(two), b"", 0x11)))]),
        "tcp_ooo_retrans": capture("eth", [
            eth(ip4(6, tcp(5000, INVITE[:50])), (0x8100,)),
            eth(ip4(6, tcp(5150, INVITE[150:])), (0x8100,)),
            eth(ip4(6, tcp(5050, INVITE[50:150])), (0x8100,)),
            eth(ip4(6, tcp(5050, INVITE[50:150])), (0x8100,))]),
        "tcp_gap": capture("ipv4", [
            ip4(6, tcp(1, two[:100])),
            ip4(6, tcp(201, two[200:])),
            ip4(6, tcp(1 + len(two), INVITE))], dt=30),
    }
    req = (b"GET / HTTP/1.1\r\nHost: sbc.example.com\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Protocol: sip\r\n\r\n")
    resp = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    mask = b"\x12\x34\x56\x78"
    masked = bytes(c ^ mask[i % 4] for i, c in enumerate(INVITE))
    wsreq = req + bytes([0x81, 0xFE]) + struct.pack(">H", len(INVITE)) + mask + masked
    wsresp = resp + bytes([0x81, len(TRYING)]) + TRYING
    seeds["websocket"] = capture("eth", [
        eth(ip4(6, tcp(1, wsreq))),
        eth(ip4(6, tcp(9, wsresp[:100], sport=5060, dport=40000))),
        eth(ip4(6, tcp(109, wsresp[100:], sport=5060, dport=40000)))])
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
