#!/usr/bin/env python3
"""mkcaptures.py - capture fixtures for the TAP (`stirwire pcap`, stirwired tap mode): from
a directory of real signed SIP INVITE messages, writes pcap / pcapng / HEP files whose
content is known exactly, and a manifest.json that says, for every file, what a reader
must find in it (calls, results, errors, frames, drop counters, exit status).

Usage: mkcaptures.py [--time EPOCH] [--stale NAME] [--hep-auth KEY] INDIR OUTDIR

  INDIR    INVITE messages, one a file (LF or CRLF line ends): valid ones first, then
           invalid, then unsigned, each in name order. The
           name says what a verifier must find (tools/tap/mkinvites.sh writes them so):
             valid-*            a good signed INVITE
             invalid-ERROR-*    a bad one; ERROR is the sw_err name (SIGNATURE, ...)
             unsigned-*         no Identity header
           any other name: unsigned when it has no Identity header, else valid.
  OUTDIR   created if missing; the fixtures and manifest.json are written into it.
  --time   capture time of the first INVITE, Unix seconds (default: now); each next
           INVITE is 5 ms later, a fragment or segment 100 us after the one before.
  --stale  the INVITE (file name in INDIR; default the first valid one) that stale.pcap
           carries at 2 hours after its iat (read from its PASSporT) instead of --time.
  --hep-auth  the HEPv3 auth key chunk (0x000e) the HEP v3 packets carry (default
           "stirwire-test"; "" for none).

Python 3 standard library only; every header is packed from its fields (struct), every
IPv4/UDP/TCP checksum is computed. Each fixture gets its own Call-IDs (the INVITE's
Call-ID with "-FIXTURE" appended: the Call-ID is not signed), so that several fixtures
read together are all different calls and retransmission matching stays inside a file.

Fixtures (x = every INVITE of INDIR; v+u = the valid and the unsigned ones):
  eth.pcap      Ethernet, IPv4, UDP; x; noise: 2 ARP, 1 non-SIP UDP, 1 truncated frame
  eth.pcap.gz   gzip of eth.pcap
  vlan.pcap     802.1Q tag; v+u            qinq.pcap   0x88a8 then 0x8100; v+u
  sll.pcap      LINUX_SLL (113); v+u       sll2.pcap   LINUX_SLL2 (276); v+u
  raw.pcap      LINKTYPE_RAW (101), IPv4 and IPv6 alternately; v+u
  null.pcap     DLT_NULL (0), family in host (little-endian) order: AF_INET 2 and
                AF_INET6 24, 28, 30 in turn; v+u
  ipv6.pcap     Ethernet, IPv6, hop-by-hop and destination options headers, UDP; v+u
  frag4.pcap    x; every datagram in 3 IPv4 fragments; the 2nd INVITE's sent last,
                first, middle
  frag6.pcap    v+u; IPv6 fragment headers, 3 fragments each; the 2nd INVITE's out of order
  tcp_multi.pcap  v+u over one TCP connection (SYN, SYN-ACK, ACK first; FIN at the end):
                the first two INVITEs in one segment, the others one segment each
  tcp_split.pcap  v+u, each INVITE over 3 segments (cut mid-line)
  tcp_ooo.pcap  v+u, 3 segments each; the first INVITE's sent 1, 3, 2, then 2 again
                (tcp_out_of_order 1, tcp_retransmitted 1)
  retrans.pcap  the first valid INVITE sent 3 times 0.5 s apart (same bytes): 1 call,
                2 retransmissions
  stale.pcap    v+u, the --stale one captured at iat + 7200 s (last): invalid STALE
  ng.pcapng     pcapng, two Ethernet interfaces, v+u on both in turn
  mixed.pcapng  pcapng, interface 0 Ethernet, 1 LINKTYPE_RAW (v+u alternately), 2 a link
                type no one reads (USER0, 147) with one frame (dropped linktype 1). libpcap
                (1.10) refuses it ("an interface has a type 101 different from the type
                of the first interface"): a reader needs its own pcapng parser for it
                (the manifest says "libpcap": false); tshark reads it
  hep3.bin      HEPv3 packets, plain payload (0x000f), v+u (IPv4 and IPv6 alternately),
                plus one HEP packet of payload type 5 (not SIP)
  hep3z.bin     HEPv3 packets, zlib-compressed payload (chunk 0x0010), v+u
  hep2.bin      HEPv2 packets, v+u (IPv4 and IPv6 alternately)
  hep3.pcap     hep3.bin's packets (own Call-IDs) in Ethernet/IPv4/UDP to port 9060

HEP file format (*.bin): packets one after another, each a 4-byte big-endian length
then that many bytes of one HEP packet (what one UDP datagram would carry).
HEPv3: "HEP3", total length u16, chunks (vendor u16 = 0, type u16, length u16 with the
6-byte chunk header, value), all big-endian: 1 family (u8, 2/10), 2 IP protocol (u8, 17),
3/4 IPv4 or 5/6 IPv6 addresses, 7/8 ports (u16), 9/10 time s/us (u32), 11 payload type
(u8, 1 = SIP), 12 capture id (u32), 14 auth key (string, when set), 15 payload or 16
zlib payload. HEPv2 (as Kamailio's and captagent's structs): version u8 = 2, length u8
(16 IPv4 / 40 IPv6: version..addresses), family u8, protocol u8, source port u16 and
destination port u16 big-endian, addresses, then the time header of 12 bytes in the
sender's (little-endian) order: tv_sec u32, tv_usec u32, captid u16, 2 padding bytes;
then the SIP message.

manifest.json: {"time": T, "stale": NAME, "hep_auth": KEY, "invites": {file: {...}},
"fixtures": {NAME: {"format", "linktypes", "cli" (false: not for `stirwire pcap`),
"frames", "invites" (INVITE messages, copies included), "calls", "retransmissions",
"results": {valid, invalid, unsigned}, "errors": {NAME: n}, "exit" (0, the class, or
-1: some non-zero), "seen": {counter: n} (only the ones sure to be so), "dropped":
{counter: n} (every other drop counter is 0), "call_ids": [...], "failed": [{"call_id",
"frames"}], "failed_frames"}}}.
"""

import argparse
import base64
import gzip
import json
import os
import re
import struct
import sys
import time
import zlib

# --- what the verifier will say -------------------------------------------------------------
# The exit status (the sw_class) of the errors the fixtures may carry (src/lib/stirwire.h).
ERR_CLASS = {"SIGNATURE": 7, "STALE": 5, "FUTURE": 5, "IAT_MISSING": 4, "BASE64": 4,
             "JSON": 4, "IDENTITY_MALFORMED": 4, "ORIG_MISMATCH": 6, "DEST_MISMATCH": 6,
             "X5U_MISMATCH": 8, "CERT_UNTRUSTED": 8}

MAC_A = bytes([0x02, 0x00, 0x00, 0x00, 0x00, 0x0a])
MAC_B = bytes([0x02, 0x00, 0x00, 0x00, 0x00, 0x14])
IP4_A = bytes([192, 0, 2, 10])
IP4_B = bytes([198, 51, 100, 20])
IP6_A = bytes([0x20, 0x01, 0x0d, 0xb8] + [0] * 11 + [0x10])
IP6_B = bytes([0x20, 0x01, 0x0d, 0xb8] + [0] * 11 + [0x20])
SIP_PORT = 5060
HEP_PORT = 9060

ETH_IPV4, ETH_IPV6, ETH_ARP, ETH_8021Q, ETH_8021AD = 0x0800, 0x86DD, 0x0806, 0x8100, 0x88A8
LT_NULL, LT_EN10MB, LT_RAW, LT_SLL, LT_SLL2, LT_USER0 = 0, 1, 101, 113, 276, 147
PROTO_TCP, PROTO_UDP = 6, 17
V6_HOPOPT, V6_DSTOPTS, V6_FRAG = 0, 60, 44
TCP_FIN, TCP_SYN, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x08, 0x10


# --- checksums and headers ------------------------------------------------------------------
def csum(data):
    """The Internet checksum (RFC 1071) of data."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def pseudo(src, dst, proto, length):
    """The pseudo-header that UDP and TCP checksums cover (IPv4 or IPv6 by address size)."""
    if len(src) == 4:
        return src + dst + struct.pack("!BBH", 0, proto, length)
    return src + dst + struct.pack("!IxxxB", length, proto)


def udp(src, dst, sport, dport, payload):
    """A UDP header and payload, checksum computed."""
    n = 8 + len(payload)
    hdr = struct.pack("!HHHH", sport, dport, n, 0)
    c = csum(pseudo(src, dst, PROTO_UDP, n) + hdr + payload) or 0xFFFF
    return struct.pack("!HHHH", sport, dport, n, c) + payload


def tcp(src, dst, sport, dport, seq, ack, flags, payload=b""):
    """A 20-byte TCP header (no options) and payload, checksum computed."""
    fields = [sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0]
    hdr = struct.pack("!HHIIBBHHH", *fields)
    fields[7] = csum(pseudo(src, dst, PROTO_TCP, len(hdr) + len(payload)) + hdr + payload)
    return struct.pack("!HHIIBBHHH", *fields) + payload


def ipv4(src, dst, proto, payload, ident=0, frag_off=0, more=False, dont_frag=False):
    """An IPv4 header (20 bytes) and payload. frag_off in bytes (a multiple of 8)."""
    flags = (0x2 if dont_frag else 0) | (0x1 if more else 0)
    fields = [0x45, 0, 20 + len(payload), ident, (flags << 13) | (frag_off // 8), 64, proto, 0,
              src, dst]
    hdr = struct.pack("!BBHHHBBH4s4s", *fields)
    fields[7] = csum(hdr)
    return struct.pack("!BBHHHBBH4s4s", *fields) + payload


def ipv6(src, dst, nxt, payload):
    """An IPv6 header (40 bytes); payload includes any extension headers."""
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nxt, 64, src, dst) + payload


def v6_options(nxt, pad_to=8):
    """A hop-by-hop or destination options header with one PadN option: 8 bytes."""
    optlen = pad_to - 2 - 2  # the PadN option's data
    return struct.pack("!BBBB", nxt, pad_to // 8 - 1, 1, optlen) + bytes(optlen)


def v6_frag(nxt, offset, more, ident):
    """An IPv6 fragment header; offset in bytes (a multiple of 8)."""
    return struct.pack("!BBHI", nxt, 0, (offset // 8) << 3 | (1 if more else 0), ident)


def eth(ethertype, payload, tags=()):
    """An Ethernet II frame; tags: (TPID, VLAN id) outermost first."""
    out = struct.pack("!6s6s", MAC_B, MAC_A)
    for tpid, vid in tags:
        out += struct.pack("!HH", tpid, vid & 0x0FFF)
    return out + struct.pack("!H", ethertype) + payload


def sll(proto, payload):
    """LINUX_SLL (cooked v1) header, 16 bytes: packet type 0 (to us), ARPHRD_ETHER."""
    return struct.pack("!HHH8sH", 0, 1, 6, MAC_A + b"\0\0", proto) + payload


def sll2(proto, payload):
    """LINUX_SLL2 header, 20 bytes: protocol, reserved, ifindex, ARPHRD_ETHER, type, addr."""
    return struct.pack("!HHIHBB8s", proto, 0, 2, 1, 0, 6, MAC_A + b"\0\0") + payload


def arp(op, sha, spa, tha, tpa):
    """An ARP packet for IPv4 over Ethernet."""
    return struct.pack("!HHBBH6s4s6s4s", 1, ETH_IPV4, 6, 4, op, sha, spa, tha, tpa)


# --- file writers ---------------------------------------------------------------------------
class Frame:
    """One captured frame: time (float seconds), bytes, the length on the wire, and for
    pcapng the interface."""

    def __init__(self, ts, data, wirelen=None, iface=0):
        self.ts, self.data, self.iface = ts, data, iface
        self.wirelen = len(data) if wirelen is None else wirelen


def ts_split(ts):
    us = int(round(ts * 1e6))
    return us // 1000000, us % 1000000


def write_pcap(path, linktype, frames, snaplen=262144):
    """A classic pcap file (little-endian, microseconds)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))
        for fr in frames:
            sec, usec = ts_split(fr.ts)
            f.write(struct.pack("<IIII", sec, usec, len(fr.data), fr.wirelen) + fr.data)


def pcapng_block(btype, body):
    body += bytes(-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def write_pcapng(path, linktypes, frames, snaplen=262144):
    """A pcapng file: one section, one interface (IDB) per link type, enhanced packet
    blocks with microsecond times (the default if_tsresol)."""
    out = pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    for lt in linktypes:
        out += pcapng_block(0x00000001, struct.pack("<HHI", lt, 0, snaplen))
    for fr in frames:
        us = int(round(fr.ts * 1e6))
        out += pcapng_block(0x00000006, struct.pack("<IIIII", fr.iface, us >> 32,
                                                    us & 0xFFFFFFFF, len(fr.data),
                                                    fr.wirelen) + fr.data)
    with open(path, "wb") as f:
        f.write(out)


def write_lenprefixed(path, packets):
    with open(path, "wb") as f:
        for p in packets:
            f.write(struct.pack("!I", len(p)) + p)


# --- the INVITEs ----------------------------------------------------------------------------
class Invite:
    """One input INVITE: its file name, expected result and error, and message bytes."""

    def __init__(self, path):
        self.name = os.path.basename(path)
        with open(path, "rb") as f:
            raw = f.read()
        head, sep, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
        if not sep:
            head, body = head.rstrip(b"\n"), b""
        self.lines = head.split(b"\n")
        self.body = body.replace(b"\n", b"\r\n") if body else b""
        if not self.lines[0].startswith(b"INVITE "):
            raise SystemExit("%s: not an INVITE" % path)
        self.call_id = self.header(rb"call-id|i")
        if self.call_id is None:
            raise SystemExit("%s: no Call-ID" % path)
        ident = self.header(rb"identity|y")
        parts = self.name.split("-")
        if parts[0] in ("valid", "unsigned"):
            self.result, self.error = parts[0], None
        elif parts[0] == "invalid" and len(parts) > 1:
            self.result, self.error = "invalid", parts[1]
        else:
            self.result, self.error = ("valid" if ident else "unsigned"), None
        self.iat = None
        if ident:
            try:
                payload = ident.split(b";")[0].split(b".")[1]
                payload += b"=" * (-len(payload) % 4)
                self.iat = int(json.loads(base64.urlsafe_b64decode(payload))["iat"])
            except (IndexError, ValueError, KeyError, TypeError):
                self.iat = None

    def header(self, names):
        r = re.compile(rb"^(?:" + names + rb")[ \t]*:[ \t]*(.*?)[ \t]*$", re.I)
        for line in self.lines[1:]:
            m = r.match(line)
            if m:
                return m.group(1)
        return None

    def message(self, tag):
        """The message with Call-ID "<id>-<tag>" and a Content-Length that is right."""
        out = [self.lines[0]]
        rid = re.compile(rb"^(call-id|i)([ \t]*:[ \t]*)(.*?)[ \t]*$", re.I)
        rcl = re.compile(rb"^(content-length|l)[ \t]*:", re.I)
        for line in self.lines[1:]:
            m = rid.match(line)
            if m:
                line = m.group(1) + m.group(2) + m.group(3) + b"-" + tag.encode()
            elif rcl.match(line):
                continue
            out.append(line)
        out.append(b"Content-Length: %d" % len(self.body))
        return b"\r\n".join(out) + b"\r\n\r\n" + self.body

    def new_call_id(self, tag):
        return (self.call_id + b"-" + tag.encode()).decode("latin-1")


class Fixture:
    """What one fixture holds, for the manifest, and its frames as they are made."""

    def __init__(self, name, fmt, linktypes, cli=True):
        self.name, self.fmt, self.linktypes, self.cli = name, fmt, linktypes, cli
        # "eth.pcap" -> "eth", "hep3.bin" -> "hep3bin" (hep3.pcap has its own calls)
        stem, ext = name.split(".", 1)
        self.tag = re.sub(r"[^A-Za-z0-9]", "", stem + ("bin" if ext == "bin" else ""))
        self.frames = []
        self.calls = []  # (invite, call-id, [frame indexes])
        self.copies = 0
        self.seen = {}
        self.dropped = {}

    def add(self, frame):
        self.frames.append(frame)
        return len(self.frames) - 1

    def call(self, inv, idxs, copy=False):
        if copy:
            self.copies += 1
            for c in self.calls:
                if c[0] is inv:
                    c[2].extend(idxs)
            return
        self.calls.append((inv, inv.new_call_id(self.tag), list(idxs)))

    def manifest(self):
        res = {"valid": 0, "invalid": 0, "unsigned": 0}
        errors = {}
        failed = []
        for inv, cid, idxs in self.calls:
            result, err = inv.result, inv.error
            if getattr(inv, "stale_here", None) is self:
                result, err = "invalid", "STALE"
            res[result] += 1
            if err:
                errors[err] = errors.get(err, 0) + 1
            if result == "invalid":
                failed.append({"call_id": cid, "frames": len(set(idxs))})
        if res["invalid"] == 0:
            code = 0
        else:
            by_class = {}
            for e, n in errors.items():
                c = ERR_CLASS.get(e, -1)
                by_class[c] = by_class.get(c, 0) + n
            code = sorted(by_class.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        return {"format": self.fmt, "libpcap": len(set(self.linktypes)) <= 1, "linktypes": self.linktypes, "cli": self.cli,
                "frames": len(self.frames), "invites": len(self.calls) + self.copies,
                "calls": len(self.calls), "retransmissions": self.copies, "results": res,
                "errors": errors, "exit": code, "seen": dict(self.seen, frames=len(self.frames)),
                "dropped": self.dropped, "call_ids": [c[1] for c in self.calls],
                "failed": failed, "failed_frames": sum(f["frames"] for f in failed)}


class Clock:
    """Capture times: INVITE k of a fixture at base + 5 ms * k at the earliest, every frame
    100 us after the one before."""

    def __init__(self, base):
        self.base, self.t, self.k = base, base - 0.0001, 0

    def invite(self):
        self.t = max(self.t, self.base + 0.005 * self.k)
        self.k += 1

    def frame(self):
        self.t += 0.0001
        return self.t


# --- the fixtures ---------------------------------------------------------------------------
def udp_fixture(name, invs, base, linktype, wrap, fmt="pcap"):
    """One UDP datagram a frame per INVITE; wrap(k, udp_payload) -> frame bytes."""
    fx = Fixture(name, fmt, [linktype])
    clk = Clock(base)
    for k, inv in enumerate(invs):
        clk.invite()
        i = fx.add(Frame(clk.frame(), wrap(k, inv.message(fx.tag))))
        fx.call(inv, [i])
    return fx


def l3_v4(msg, sport=SIP_PORT, ident=0):
    return ipv4(IP4_A, IP4_B, PROTO_UDP, udp(IP4_A, IP4_B, sport, SIP_PORT, msg), ident=ident)


def l3_v6(msg, ext=None):
    """IPv6 + UDP; ext: a list of extension header types (hop-by-hop, dest opts) before
    UDP."""
    dgram = udp(IP6_A, IP6_B, SIP_PORT, SIP_PORT, msg)
    chain = list(ext or []) + [PROTO_UDP]
    hdrs = b""
    for i, h in enumerate(chain[:-1]):
        hdrs += v6_options(chain[i + 1])
    return ipv6(IP6_A, IP6_B, chain[0], hdrs + dgram)


def make_eth(invs, base):
    fx = Fixture("eth.pcap", "pcap", [LT_EN10MB])
    clk = Clock(base)
    bcast = b"\xff" * 6
    # Noise first: an ARP request and reply.
    fx.add(Frame(clk.frame(), struct.pack("!6s6sH", bcast, MAC_A, ETH_ARP) +
                 arp(1, MAC_A, IP4_A, bytes(6), IP4_B)))
    fx.add(Frame(clk.frame(), eth(ETH_ARP, arp(2, MAC_B, IP4_B, MAC_A, IP4_A))))
    fx.seen["not_ip"] = 2
    for k, inv in enumerate(invs):
        clk.invite()
        i = fx.add(Frame(clk.frame(), eth(ETH_IPV4, l3_v4(inv.message(fx.tag), ident=100 + k))))
        fx.call(inv, [i])
        if k == 0:
            # A non-SIP UDP datagram (a DNS-looking query to port 53).
            q = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x07example\x03net\x00"
            q += struct.pack("!HH", 1, 1)
            fx.add(Frame(clk.frame(), eth(ETH_IPV4, ipv4(IP4_A, IP4_B, PROTO_UDP,
                                                         udp(IP4_A, IP4_B, 40000, 53, q)))))
            fx.seen["not_sip"] = 1
    # A truncated frame: an INVITE whose capture stops after 100 bytes (caplen < len).
    full = eth(ETH_IPV4, l3_v4(invs[0].message(fx.tag + "truncated"), ident=99))
    fx.add(Frame(clk.frame(), full[:100], wirelen=len(full)))
    fx.dropped["truncated"] = 1
    return fx


def frag_points(n, parts=3):
    """Offsets cutting n bytes into `parts` pieces, all but the last a multiple of 8."""
    step = (n // parts) // 8 * 8
    return [i * step for i in range(parts)] + [n]


def make_frag4(invs, base):
    fx = Fixture("frag4.pcap", "pcap", [LT_EN10MB])
    clk = Clock(base)
    for k, inv in enumerate(invs):
        clk.invite()
        dgram = udp(IP4_A, IP4_B, SIP_PORT, SIP_PORT, inv.message(fx.tag))
        cut = frag_points(len(dgram))
        ident = 0x4000 + k
        frags = [eth(ETH_IPV4, ipv4(IP4_A, IP4_B, PROTO_UDP, dgram[cut[j]:cut[j + 1]],
                                    ident=ident, frag_off=cut[j], more=j < 2))
                 for j in range(3)]
        order = [2, 0, 1] if k == 1 else [0, 1, 2]
        fx.call(inv, [fx.add(Frame(clk.frame(), frags[j])) for j in order])
    fx.seen.update(fragments=3 * len(invs), reassembled=len(invs))
    return fx


def make_frag6(invs, base):
    fx = Fixture("frag6.pcap", "pcap", [LT_EN10MB])
    clk = Clock(base)
    for k, inv in enumerate(invs):
        clk.invite()
        dgram = udp(IP6_A, IP6_B, SIP_PORT, SIP_PORT, inv.message(fx.tag))
        cut = frag_points(len(dgram))
        ident = 0x6000 + k
        frags = [eth(ETH_IPV6, ipv6(IP6_A, IP6_B, V6_FRAG,
                                    v6_frag(PROTO_UDP, cut[j], j < 2, ident) +
                                    dgram[cut[j]:cut[j + 1]]))
                 for j in range(3)]
        order = [1, 2, 0] if k == 1 else [0, 1, 2]
        fx.call(inv, [fx.add(Frame(clk.frame(), frags[j])) for j in order])
    fx.seen.update(fragments=3 * len(invs), reassembled=len(invs))
    return fx


class TcpFlow:
    """One client -> server TCP connection in an Ethernet/IPv4 capture."""

    def __init__(self, fx, clk, sport=40123):
        self.fx, self.clk, self.sport = fx, clk, sport
        self.cseq, self.sseq = 1000000, 5000000  # initial sequence numbers

    def seg(self, to_server, seq, ack, flags, payload=b""):
        if to_server:
            t = tcp(IP4_A, IP4_B, self.sport, SIP_PORT, seq, ack, flags, payload)
            pkt = ipv4(IP4_A, IP4_B, PROTO_TCP, t, dont_frag=True)
            frame = eth(ETH_IPV4, pkt)
        else:
            t = tcp(IP4_B, IP4_A, SIP_PORT, self.sport, seq, ack, flags, payload)
            pkt = ipv4(IP4_B, IP4_A, PROTO_TCP, t, dont_frag=True)
            frame = struct.pack("!6s6sH", MAC_A, MAC_B, ETH_IPV4) + pkt
        return self.fx.add(Frame(self.clk.frame(), frame))

    def handshake(self):
        self.seg(True, self.cseq, 0, TCP_SYN)
        self.seg(False, self.sseq, self.cseq + 1, TCP_SYN | TCP_ACK)
        self.cseq += 1
        self.sseq += 1
        self.seg(True, self.cseq, self.sseq, TCP_ACK)

    def data(self, payload, at=None):
        """A data segment of payload at stream position `at` (default: next); returns the
        frame index. Advances the next position past it when it is the next."""
        seq = self.cseq if at is None else at
        i = self.seg(True, seq, self.sseq, TCP_PSH | TCP_ACK, payload)
        self.cseq = max(self.cseq, seq + len(payload))
        return i

    def ack(self):
        self.seg(False, self.sseq, self.cseq, TCP_ACK)

    def close(self):
        self.seg(True, self.cseq, self.sseq, TCP_FIN | TCP_ACK)
        self.cseq += 1
        self.seg(False, self.sseq, self.cseq, TCP_FIN | TCP_ACK)
        self.sseq += 1
        self.seg(True, self.cseq, self.sseq, TCP_ACK)


def thirds(msg):
    """3 pieces of msg, cut at 1/3 and 2/3 (mid-line)."""
    a, b = len(msg) // 3, 2 * len(msg) // 3
    return [msg[:a], msg[a:b], msg[b:]]


def make_tcp_multi(invs, base):
    fx = Fixture("tcp_multi.pcap", "pcap", [LT_EN10MB])
    clk = Clock(base)
    flow = TcpFlow(fx, clk)
    flow.handshake()
    k = 0
    while k < len(invs):
        clk.invite()
        if k == 0 and len(invs) > 1:
            i = flow.data(invs[0].message(fx.tag) + invs[1].message(fx.tag))
            fx.call(invs[0], [i])
            fx.call(invs[1], [i])
            k = 2
        else:
            fx.call(invs[k], [flow.data(invs[k].message(fx.tag))])
            k += 1
        flow.ack()
    flow.close()
    return fx


def make_tcp_split(invs, base):
    fx = Fixture("tcp_split.pcap", "pcap", [LT_EN10MB])
    clk = Clock(base)
    flow = TcpFlow(fx, clk, sport=40124)
    flow.handshake()
    for inv in invs:
        clk.invite()
        fx.call(inv, [flow.data(p) for p in thirds(inv.message(fx.tag))])
        flow.ack()
    flow.close()
    return fx


def make_tcp_ooo(invs, base):
    fx = Fixture("tcp_ooo.pcap", "pcap", [LT_EN10MB])
    clk = Clock(base)
    flow = TcpFlow(fx, clk, sport=40125)
    flow.handshake()
    for k, inv in enumerate(invs):
        clk.invite()
        parts = thirds(inv.message(fx.tag))
        if k == 0:
            s0 = flow.cseq
            s1, s2 = s0 + len(parts[0]), s0 + len(parts[0]) + len(parts[1])
            idx = [flow.data(parts[0], s0), flow.data(parts[2], s2), flow.data(parts[1], s1),
                   flow.data(parts[1], s1)]  # 1, 3, 2, then 2 again (retransmitted)
            fx.call(inv, idx[:3])
        else:
            fx.call(inv, [flow.data(p) for p in parts])
        flow.ack()
    flow.close()
    fx.seen.update(tcp_out_of_order=1, tcp_retransmitted=1)
    return fx


def make_retrans(inv, base):
    fx = Fixture("retrans.pcap", "pcap", [LT_EN10MB])
    msg = inv.message(fx.tag)
    first = True
    for j in range(3):
        i = fx.add(Frame(base + 0.5 * j, eth(ETH_IPV4, l3_v4(msg, ident=200 + j))))
        fx.call(inv, [i], copy=not first)
        first = False
    return fx


def make_stale(invs, stale, base):
    fx = Fixture("stale.pcap", "pcap", [LT_EN10MB])
    clk = Clock(base)
    for k, inv in enumerate(i for i in invs if i is not stale):
        clk.invite()
        fx.call(inv, [fx.add(Frame(clk.frame(), eth(ETH_IPV4, l3_v4(inv.message(fx.tag)))))])
    t = (stale.iat if stale.iat is not None else int(base)) + 7200
    t = max(t, clk.t + 1)
    fx.call(stale, [fx.add(Frame(t, eth(ETH_IPV4, l3_v4(stale.message(fx.tag)))))])
    stale.stale_here = fx
    return fx


def make_ng(invs, base):
    """pcapng that libpcap reads: two interfaces, both Ethernet, frames on both."""
    fx = Fixture("ng.pcapng", "pcapng", [LT_EN10MB, LT_EN10MB])
    clk = Clock(base)
    for k, inv in enumerate(invs):
        clk.invite()
        fr = Frame(clk.frame(), eth(ETH_IPV4, l3_v4(inv.message(fx.tag))), iface=k % 2)
        fx.call(inv, [fx.add(fr)])
    return fx


def make_mixed(invs, base):
    fx = Fixture("mixed.pcapng", "pcapng", [LT_EN10MB, LT_RAW, LT_USER0])
    clk = Clock(base)
    for k, inv in enumerate(invs):
        clk.invite()
        msg = inv.message(fx.tag)
        if k % 2 == 0:
            fr = Frame(clk.frame(), eth(ETH_IPV4, l3_v4(msg)), iface=0)
        else:
            fr = Frame(clk.frame(), l3_v4(msg), iface=1)
        fx.call(inv, [fx.add(fr)])
        if k == 0:
            fx.add(Frame(clk.frame(), b"not a frame any reader knows", iface=2))
    fx.dropped["linktype"] = 1
    return fx


# --- HEP ------------------------------------------------------------------------------------
def chunk(ctype, value):
    return struct.pack("!HHH", 0, ctype, 6 + len(value)) + value


def hep3(msg, ts, v6, auth, compress=False, ptype=1):
    fam, src, dst = (10, IP6_A, IP6_B) if v6 else (2, IP4_A, IP4_B)
    sec, usec = ts_split(ts)
    body = chunk(1, struct.pack("!B", fam)) + chunk(2, struct.pack("!B", PROTO_UDP))
    body += chunk(5 if v6 else 3, src) + chunk(6 if v6 else 4, dst)
    body += chunk(7, struct.pack("!H", SIP_PORT)) + chunk(8, struct.pack("!H", SIP_PORT))
    body += chunk(9, struct.pack("!I", sec)) + chunk(10, struct.pack("!I", usec))
    body += chunk(11, struct.pack("!B", ptype)) + chunk(12, struct.pack("!I", 2001))
    if auth:
        body += chunk(14, auth.encode())
    body += chunk(16, zlib.compress(msg)) if compress else chunk(15, msg)
    return b"HEP3" + struct.pack("!H", 6 + len(body)) + body


def hep2(msg, ts, v6):
    fam, src, dst = (10, IP6_A, IP6_B) if v6 else (2, IP4_A, IP4_B)
    sec, usec = ts_split(ts)
    hdr = struct.pack("!BBBBHH", 2, 8 + 2 * len(src), fam, PROTO_UDP, SIP_PORT, SIP_PORT)
    return hdr + src + dst + struct.pack("<IIHxx", sec, usec, 2001) + msg


def make_hep(name, invs, base, kind, auth):
    fx = Fixture(name, "hep-len32", [], cli=False)
    clk = Clock(base)
    pkts = []
    for k, inv in enumerate(invs):
        clk.invite()
        t = clk.frame()
        msg = inv.message(fx.tag)
        if kind == "v2":
            pkts.append(hep2(msg, t, k % 2 == 1))
        else:
            pkts.append(hep3(msg, t, k % 2 == 1, auth, compress=kind == "v3z"))
        fx.add(Frame(t, pkts[-1]))
        fx.call(inv, [len(pkts) - 1])
    if kind == "v3":
        # A HEP packet of another payload type (5, RTCP): not SIP, ignored.
        t = clk.frame()
        pkts.append(hep3(b'{"type":200}', t, False, auth, ptype=5))
        fx.add(Frame(t, pkts[-1]))
        fx.seen["not_sip"] = 1
    fx.seen["hep"] = len(pkts)
    return fx, pkts


def make_hep_pcap(invs, base, auth):
    hx, pkts = make_hep("hep3.pcap", invs, base, "v3", auth)
    fx = Fixture("hep3.pcap", "pcap", [LT_EN10MB], cli=False)
    fx.calls, fx.seen = hx.calls, dict(hx.seen)
    for k, (p, fr) in enumerate(zip(pkts, hx.frames)):
        fx.add(Frame(fr.ts, eth(ETH_IPV4, ipv4(IP4_A, IP4_B, PROTO_UDP,
                                               udp(IP4_A, IP4_B, 47000, HEP_PORT, p),
                                               ident=0x7000 + k))))
    return fx


# --- main -----------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("indir")
    ap.add_argument("outdir")
    ap.add_argument("--time", type=float, default=None,
                    help="capture time of the first INVITE, Unix seconds (default: now)")
    ap.add_argument("--stale", default=None,
                    help="the INVITE (file name) stale.pcap carries 2 h after its iat")
    ap.add_argument("--hep-auth", default="stirwire-test",
                    help="HEPv3 auth key chunk value ('' for none)")
    a = ap.parse_args()
    base = time.time() if a.time is None else a.time

    names = sorted(n for n in os.listdir(a.indir)
                   if os.path.isfile(os.path.join(a.indir, n)) and not n.startswith("."))
    invs = [Invite(os.path.join(a.indir, n)) for n in names]
    # Valid ones first, so that the special cases (out of order, retransmitted) are INVITEs
    # whose signature proves every byte came through.
    rank = {"valid": 0, "invalid": 1, "unsigned": 2}
    invs.sort(key=lambda i: (rank[i.result], i.name))
    good = [i for i in invs if i.result != "invalid"]
    valid = [i for i in invs if i.result == "valid"]
    if not valid:
        sys.exit("mkcaptures.py: %s has no valid INVITE" % a.indir)
    if a.stale is None:
        stale = valid[0]
    else:
        found = [i for i in invs if i.name == a.stale]
        if not found:
            sys.exit("mkcaptures.py: --stale %s: no such INVITE in %s" % (a.stale, a.indir))
        stale = found[0]
    os.makedirs(a.outdir, exist_ok=True)

    def vlan(k, p):
        return eth(ETH_IPV4, l3_v4(p), tags=[(ETH_8021Q, 100)])

    def qinq(k, p):
        return eth(ETH_IPV4, l3_v4(p), tags=[(ETH_8021AD, 200), (ETH_8021Q, 100)])

    def raw(k, p):
        return l3_v4(p) if k % 2 == 0 else l3_v6(p)

    def null(k, p):
        if k % 2 == 0:
            return struct.pack("<I", 2) + l3_v4(p)
        return struct.pack("<I", (24, 28, 30)[(k // 2) % 3]) + l3_v6(p)

    fixtures = [
        make_eth(invs, base),
        udp_fixture("vlan.pcap", good, base, LT_EN10MB, vlan),
        udp_fixture("qinq.pcap", good, base, LT_EN10MB, qinq),
        udp_fixture("sll.pcap", good, base, LT_SLL, lambda k, p: sll(ETH_IPV4, l3_v4(p))),
        udp_fixture("sll2.pcap", good, base, LT_SLL2, lambda k, p: sll2(ETH_IPV4, l3_v4(p))),
        udp_fixture("raw.pcap", good, base, LT_RAW, raw),
        udp_fixture("null.pcap", good, base, LT_NULL, null),
        udp_fixture("ipv6.pcap", good, base, LT_EN10MB,
                    lambda k, p: eth(ETH_IPV6, l3_v6(p, [V6_HOPOPT, V6_DSTOPTS]))),
        make_frag4(invs, base),
        make_frag6(good, base),
        make_tcp_multi(good, base),
        make_tcp_split(good, base),
        make_tcp_ooo(good, base),
        make_retrans(valid[0], base),
        make_stale(good if stale in good else good + [stale], stale, base),
        make_ng(good, base),
        make_mixed(good, base),
    ]
    for fx in fixtures:
        path = os.path.join(a.outdir, fx.name)
        if fx.fmt == "pcapng":
            write_pcapng(path, fx.linktypes, fx.frames)
        else:
            write_pcap(path, fx.linktypes[0], fx.frames)

    # eth.pcap.gz: the same capture, gzip-compressed (same Call-IDs as eth.pcap).
    with open(os.path.join(a.outdir, "eth.pcap"), "rb") as f:
        data = f.read()
    with gzip.open(os.path.join(a.outdir, "eth.pcap.gz"), "wb") as f:
        f.write(data)
    gz = Fixture("eth.pcap.gz", "pcap.gz", [LT_EN10MB])
    gz.__dict__.update({k: v for k, v in fixtures[0].__dict__.items()
                        if k not in ("name", "fmt")})
    fixtures.append(gz)

    for name, kind in (("hep3.bin", "v3"), ("hep3z.bin", "v3z"), ("hep2.bin", "v2")):
        fx, pkts = make_hep(name, good, base, kind, a.hep_auth)
        write_lenprefixed(os.path.join(a.outdir, name), pkts)
        fixtures.append(fx)
    hp = make_hep_pcap(good, base, a.hep_auth)
    write_pcap(os.path.join(a.outdir, hp.name), LT_EN10MB, hp.frames)
    fixtures.append(hp)

    man = {"time": base, "stale": stale.name, "hep_auth": a.hep_auth,
           "invites": {i.name: {"result": i.result, "error": i.error, "iat": i.iat,
                                "call_id": i.call_id.decode("latin-1")} for i in invs},
           "fixtures": {fx.name: fx.manifest() for fx in fixtures}}
    with open(os.path.join(a.outdir, "manifest.json"), "w") as f:
        json.dump(man, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
