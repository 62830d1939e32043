#!/usr/bin/env python3
"""sipdiff.py - raw-socket SIP helpers for tests/integration/proxy_sipp.sh: they send
exact bytes to stirwired and look at exactly what comes out, where sipp would rewrite.

  sipdiff.py diff     --proxy IP:PORT --src IP --sink IP:PORT --save FILE
      Sends one handcrafted INVITE over UDP (compact and odd-case header names, comma
      lists, a folded header, a P-Asserted-Identity, a body) from --src, receives it on
      --sink as the trunk's next hop, and diffs the bytes: the forwarded message must be
      the sent one plus only the proxy's edits (our Via line, a Record-Route line, the
      Max-Forwards value, and the Identity and Date lines of the sign filter). Saves the
      forwarded message to FILE.
  sipdiff.py maxfwd   --proxy IP:PORT --src IP --sink IP:PORT
      An INVITE with Max-Forwards: 0 must be answered 483 and not forwarded.
  sipdiff.py reply    --proxy IP:PORT --src IP --status N
      An INVITE must be answered with status N (e.g. 482 through a looping trunk).
  sipdiff.py tcpframe --proxy IP:PORT --src IP --sink IP:PORT
      Over one TCP connection: two INVITEs (and a CRLF keep-alive) in one segment, then
      one INVITE split over 3 segments with pauses; the sink must receive all three.
  sipdiff.py bigtcp   --proxy IP:PORT --src IP --sink IP:PORT
      A UDP INVITE that signing grows past 1300 bytes, on a trunk whose next hop takes
      TCP (next_hop_tcp), must reach the next hop over TCP (RFC 3261 18.1.1).
  sipdiff.py flood    --proxy IP:PORT --src IP [--count N] [--tcp N]
      N malformed datagrams (garbage, truncated, missing headers, huge header counts,
      NUL bytes, bad Content-Length, ...) and some garbage TCP streams.
  sipdiff.py trace    FILE
      Reads a sipp -trace_msg file and prints one line per received request:
      METHOD <tab> Call-ID <tab> branch of the top Via <tab> Identity value (or -).

Every check prints "ok   - ..." or "FAIL - ..."; the exit status is 1 when any failed.
Loopback only; Python 3 standard library only.
"""

import argparse
import difflib
import os
import random
import re
import socket
import sys
import time

failures = 0


def ok(msg):
    print("ok   - " + msg, flush=True)


def nok(msg):
    global failures
    failures += 1
    print("FAIL - " + msg, flush=True)


def hostport(s):
    host, _, port = s.rpartition(":")
    return host, int(port)


def udp_socket(ip, port=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, port))
    return s


def recv_until(sock, timeout, pred):
    """Datagrams received within timeout seconds until pred(data) is true; returns the
    one that matched (or None) and every datagram seen."""
    seen = []
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return None, seen
        sock.settimeout(left)
        try:
            data, _ = sock.recvfrom(65535)
        except socket.timeout:
            return None, seen
        seen.append(data)
        if pred(data):
            return data, seen


def split_msg(data):
    """(start line, header lines, body) of a message in bytes; lines without CRLF."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError("no end of headers")
    lines = head.split(b"\r\n")
    return lines[0], lines[1:], body


def header_values(lines, *names):
    """Values of the headers called any of names (case-insensitive, compact forms
    included by the caller), folded lines joined."""
    out = []
    want = {n.lower() for n in names}
    cur = None
    for ln in lines:
        if ln[:1] in (b" ", b"\t") and cur is not None:
            out[-1] += b" " + ln.strip()
            continue
        name, colon, value = ln.partition(b":")
        cur = None
        if colon and name.strip().lower().decode("latin-1") in want:
            out.append(value.strip())
            cur = name
    return out


# --- diff -------------------------------------------------------------------------------

BODY = (
    b"v=0\r\n"
    b"o=pbx 2890844526 2890844526 IN IP4 127.0.0.6\r\n"
    b"s=-\r\n"
    b"c=IN IP4 127.0.0.6\r\n"
    b"t=0 0\r\n"
    b"m=audio 49170 RTP/AVP 0 8\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
)


def diff_invite(src_ip, src_port, callid, maxfwd=b"12"):
    lines = [
        b"INVITE sip:+1-202-555-0199@example.com;user=phone SIP/2.0",
        b"v: SIP/2.0/UDP %s:%d;branch=z9hG4bK-%s" % (src_ip.encode(), src_port, callid),
        b"VIA: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-older;received=192.0.2.77 ,"
        b"SIP/2.0/UDP 10.0.0.8;branch=z9hG4bK-oldest",
        b"max-FORWARDS:   " + maxfwd,
        b'f: "Alice, Accounting" <sip:+12025550100@pbx.example.com;user=phone>;tag=a1b2',
        b"t:   <tel:+1-202-555-0199>",
        b"i: " + callid + b"@127.0.0.6",
        b"CSeq:    314159 INVITE",
        b"m: <sip:alice@%s:%d>;expires=60" % (src_ip.encode(), src_port),
        b"P-asserted-identity: <sip:+1-303-555-0100@pbx.example.com;user=phone>",
        b"Supported: timer , 100rel,replaces",
        b"Allow: INVITE,ACK , CANCEL,OPTIONS, BYE",
        b"X-odd-HEADER:value-with-no-space",
        b"Subject: a header folded",
        b"   over two lines",
        b"k: path",
        b"c: application/sdp",
        b"l: %d" % len(BODY),
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + BODY


def check_diff(sent, got, proxy_ip, proxy_port):
    """Problems (a list of strings) when got is not sent plus our edits only."""
    problems = []
    s_start, s_hdrs, s_body = split_msg(sent)
    g_start, g_hdrs, g_body = split_msg(got)
    if s_start != g_start:
        problems.append("start line changed: %r -> %r" % (s_start, g_start))
    if s_body != g_body:
        problems.append("body changed: %r -> %r" % (s_body, g_body))
    our_via = re.compile(
        rb"^Via: SIP/2\.0/UDP %s:%d;branch=z9hG4bK[!-~]+;rport$"
        % (re.escape(proxy_ip.encode()), proxy_port))
    our_rr = re.compile(rb"^Record-Route: <sip:%s:%d;lr>$"
                        % (re.escape(proxy_ip.encode()), proxy_port))
    inserted = {"via": 0, "rr": 0, "identity": 0, "date": 0}
    sm = difflib.SequenceMatcher(a=s_hdrs, b=g_hdrs, autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            continue
        removed, added = s_hdrs[i1:i2], g_hdrs[j1:j2]
        # Max-Forwards: the same line with the value minus one
        mf_old = [ln for ln in removed if ln.lower().startswith(b"max-forwards:")]
        if mf_old:
            if len(removed) != 1:
                problems.append("lines removed or changed: %r" % removed)
                continue
            name, _, value = mf_old[0].partition(b":")
            lead = value[: len(value) - len(value.lstrip())]
            want = name + b":" + lead + str(int(value) - 1).encode()
            if want not in added:
                problems.append("Max-Forwards %r became none of %r (want %r)"
                                % (mf_old[0], added, want))
                continue
            added = [ln for ln in added if ln != want]
        elif removed:
            problems.append("lines removed or changed: %r -> %r" % (removed, added))
            continue
        for ln in added:
            if our_via.match(ln):
                inserted["via"] += 1
            elif our_rr.match(ln):
                inserted["rr"] += 1
            elif ln.startswith(b"Identity: ") and b";info=<" in ln:
                inserted["identity"] += 1
            elif re.match(rb"^Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} "
                          rb"\d\d:\d\d:\d\d GMT$", ln):
                inserted["date"] += 1
            else:
                problems.append("unexpected line added: %r" % ln)
    for what, n in inserted.items():
        if n != 1:
            problems.append("%d %s line(s) added, want 1" % (n, what))
    # our Via goes on top of the first Via line
    first_via = next((k for k, ln in enumerate(g_hdrs)
                      if ln.lower().startswith((b"via:", b"v:"))), None)
    if first_via is None or not our_via.match(g_hdrs[first_via]):
        problems.append("the topmost Via is not ours")
    return problems


def cmd_diff(a):
    pip, pport = hostport(a.proxy)
    sip, sport = hostport(a.sink)
    sink = udp_socket(sip, sport)
    src = udp_socket(a.src)
    sent = diff_invite(a.src, src.getsockname()[1], b"diff-%d" % os.getpid())
    src.sendto(sent, (pip, pport))
    got, seen = recv_until(sink, 5, lambda d: d.startswith(b"INVITE "))
    if got is None:
        nok("diff: the next hop received no INVITE within 5 s (%d other datagrams)"
            % len(seen))
        # maybe the proxy answered
        src.settimeout(0.5)
        try:
            resp, _ = src.recvfrom(65535)
            print("#   the proxy answered: %r" % resp.split(b"\r\n")[0])
        except socket.timeout:
            pass
        return
    with open(a.save, "wb") as f:
        f.write(got)
    problems = check_diff(sent, got, pip, pport)
    if problems:
        for p in problems:
            nok("diff: " + p)
        print("# sent:\n" + sent.decode("latin-1"))
        print("# forwarded:\n" + got.decode("latin-1"))
    else:
        ok("diff: forwarded INVITE (%d bytes) = the %d bytes sent + our Via, Record-Route, "
           "Max-Forwards 12->11, Identity and Date; start line, %d header lines and body "
           "byte-identical" % (len(got), len(sent), len(split_msg(sent)[1])))


# --- replies: Max-Forwards 0, loops -------------------------------------------------------

def simple_invite(src_ip, src_port, callid, maxfwd=b"70", transport=b"UDP"):
    body = BODY
    return (b"INVITE sip:12025550199@example.com SIP/2.0\r\n"
            b"Via: SIP/2.0/%s %s:%d;branch=z9hG4bK-%s\r\n"
            b"Max-Forwards: %s\r\n"
            b"From: <sip:12025550100@example.com>;tag=f-%s\r\n"
            b"To: <sip:12025550199@example.com>\r\n"
            b"Call-ID: %s\r\n"
            b"CSeq: 1 INVITE\r\n"
            b"Contact: <sip:12025550100@%s:%d>\r\n"
            b"Content-Type: application/sdp\r\n"
            b"Content-Length: %d\r\n\r\n"
            % (transport, src_ip.encode(), src_port, callid, maxfwd, callid, callid,
               src_ip.encode(), src_port, len(body))) + body


def expect_reply(a, status, maxfwd, what, sink=None):
    pip, pport = hostport(a.proxy)
    src = udp_socket(a.src)
    callid = b"%s-%d-%d" % (what.encode(), os.getpid(), random.randrange(1 << 30))
    src.sendto(simple_invite(a.src, src.getsockname()[1], callid, maxfwd), (pip, pport))
    got, seen = recv_until(src, 5, lambda d: d.startswith(b"SIP/2.0 ") and callid in d)
    if got is None:
        nok("%s: no response within 5 s (got %r)" % (what, [d[:40] for d in seen]))
        return
    start, hdrs, _ = split_msg(got)
    code = start.split(b" ")[1]
    if code != str(status).encode():
        nok("%s: answered %r, want %d" % (what, start, status))
        return
    vias = header_values(hdrs, "via", "v")
    tos = header_values(hdrs, "to", "t")
    if len(vias) != 1 or b"z9hG4bK-" + callid not in vias[0]:
        nok("%s: %d response's Via is not ours alone: %r" % (what, status, vias))
    elif not tos or b";tag=" not in tos[0]:
        nok("%s: %d response has no To tag: %r" % (what, status, tos))
    else:
        ok("%s: answered %r with the request's Via and a To tag" % (what, start.decode()))
    if sink is not None:
        fwd, _ = recv_until(sink, 0.5, lambda d: callid in d)
        if fwd is None:
            ok("%s: nothing forwarded to the next hop" % what)
        else:
            nok("%s: the request was forwarded anyway" % what)


def cmd_maxfwd(a):
    sip, sport = hostport(a.sink)
    sink = udp_socket(sip, sport)
    expect_reply(a, 483, b"0", "Max-Forwards 0", sink)


def cmd_reply(a):
    expect_reply(a, a.status, b"70", a.what)


# --- TCP framing --------------------------------------------------------------------------

def cmd_tcpframe(a):
    pip, pport = hostport(a.proxy)
    sip, sport = hostport(a.sink)
    sink = udp_socket(sip, sport)
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.bind((a.src, 0))
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.connect((pip, pport))
    lport = c.getsockname()[1]
    tag = b"%d-%d" % (os.getpid(), random.randrange(1 << 30))
    ids = [b"frame1-" + tag, b"frame2-" + tag, b"frame3-" + tag]
    m1 = simple_invite(a.src, lport, ids[0], transport=b"TCP")
    # the second one with the compact Content-Length
    m2 = simple_invite(a.src, lport, ids[1], transport=b"TCP").replace(
        b"Content-Length:", b"l:")
    m3 = simple_invite(a.src, lport, ids[2], transport=b"TCP")
    # two INVITEs and a CRLF keep-alive in one segment
    c.sendall(m1 + b"\r\n\r\n" + m2)
    time.sleep(0.2)
    # one INVITE in three segments: inside a header, inside the blank line, in the body
    cut1 = m3.index(b"Call-ID:") + 4
    cut2 = m3.index(b"\r\n\r\n") + 2
    cut3 = cut2 + 2 + 10
    for part in (m3[:cut1], m3[cut1:cut2], m3[cut2:cut3], m3[cut3:]):
        c.sendall(part)
        time.sleep(0.25)
    got = {}
    end = time.monotonic() + 5
    while len(got) < 3 and time.monotonic() < end:
        d, _ = recv_until(sink, end - time.monotonic(), lambda d: True)
        if d is None:
            break
        for i, cid in enumerate(ids):
            if b"Call-ID: " + cid + b"\r\n" in d:
                got[i] = d
    c.close()
    names = ["INVITE 1 (2 in one segment)", "INVITE 2 (same segment, l:)",
             "INVITE 3 (4 segments)"]
    for i in range(3):
        if i not in got:
            nok("tcp framing: %s not forwarded" % names[i])
            continue
        _, _, body = split_msg(got[i])
        if body != BODY:
            nok("tcp framing: %s forwarded with body %r" % (names[i], body))
        else:
            ok("tcp framing: %s forwarded whole, body intact" % names[i])


# --- over 1300 bytes: TCP ------------------------------------------------------------------

def cmd_bigtcp(a):
    pip, pport = hostport(a.proxy)
    sip, sport = hostport(a.sink)
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind((sip, sport))
    lst.listen(4)
    lst.settimeout(5)
    src = udp_socket(a.src)
    callid = b"big-%d" % os.getpid()
    msg = simple_invite(a.src, src.getsockname()[1], callid).replace(
        b"CSeq:", b"X-Pad: " + b"p" * 600 + b"\r\nCSeq:", 1)
    src.sendto(msg, (pip, pport))
    try:
        conn, _ = lst.accept()
    except socket.timeout:
        nok("over 1300 bytes: no TCP connection to the next hop within 5 s")
        return
    conn.settimeout(5)
    data = b""
    try:
        while True:
            if b"\r\n\r\n" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                cl = header_values(head.split(b"\r\n")[1:], "content-length", "l")
                if cl and len(body) >= int(cl[0]):
                    break
            chunk = conn.recv(65535)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    conn.close()
    try:
        _, hdrs, body = split_msg(data)
    except ValueError:
        nok("over 1300 bytes: the TCP next hop got %d bytes, no whole message" % len(data))
        return
    vias = header_values(hdrs, "via", "v")
    if b"Call-ID: " + callid not in data or body != BODY:
        nok("over 1300 bytes: the TCP next hop got something else: %r" % data[:200])
    elif not vias or not vias[0].startswith(b"SIP/2.0/TCP "):
        nok("over 1300 bytes: sent over TCP, but our Via says %r" % (vias[:1],))
    else:
        ok("over 1300 bytes: the %d-byte signed INVITE (sent as %d bytes over UDP) reached "
           "the next hop over TCP, our Via saying TCP" % (len(data), len(msg)))


# --- malformed input ----------------------------------------------------------------------

def malformed(src_ip, port, n, rnd):
    base = simple_invite(src_ip, port, b"bad-%d" % n)
    kind = n % 15
    if kind == 0:
        return bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 1500)))
    if kind == 1:  # truncated anywhere
        return base[: rnd.randrange(1, len(base))]
    if kind == 2:  # a required header missing
        hdr = rnd.choice([b"Via:", b"From:", b"To:", b"Call-ID:", b"CSeq:"])
        return re.sub(rb"(?m)^" + re.escape(hdr) + rb"[^\r]*\r\n", b"", base)
    if kind == 3:  # a huge number of headers
        return base.replace(b"CSeq:", b"X-H: y\r\n" * rnd.randrange(500, 7000) + b"CSeq:", 1)
    if kind == 4:  # NUL bytes
        b = bytearray(base)
        for _ in range(rnd.randrange(1, 20)):
            b[rnd.randrange(len(b))] = 0
        return bytes(b)
    if kind == 5:  # bad Content-Length
        cl = rnd.choice([b"-1", b"99999999999999999999", b"abc", b"5000", b"0x10", b"",
                         b"12, 13", b"4294967296"])
        return re.sub(rb"Content-Length: \d+", b"Content-Length: " + cl, base)
    if kind == 6:  # two Content-Lengths
        return base.replace(b"CSeq:", b"Content-Length: 3\r\nCSeq:", 1)
    if kind == 7:  # bad start lines
        return rnd.choice([b"INVITE\r\n\r\n", b"SIP/2.0\r\n\r\n", b"INVITE  SIP/2.0\r\n\r\n",
                           b"SIP/2.0 99999999999 X\r\nVia: SIP/2.0/UDP a\r\n\r\n",
                           b" INVITE sip:a SIP/2.0\r\n\r\n", b"\r\n", b"\r\n\r\n",
                           b"INVITE sip:a SIP/3.0\r\nVia: x\r\n\r\n", b"\x00" * 100])
    if kind == 8:  # broken Via
        via = rnd.choice([b"Via: SIP/2.0/UDP", b"Via: ;;;", b"Via: SIP/2.0/UDP [::1",
                          b"Via: SIP/2.0/UDP 127.0.0.6:99999;branch=", b"Via: " + b"a" * 5000,
                          b"Via: SIP/2.0/UDP 127.0.0.6;rport=;received=;branch=z9hG4bK",
                          b"Via: SIP/2.0/UDP 127.0.0.6," * 300])
        return re.sub(rb"Via: [^\r]*", via, base, count=1)
    if kind == 9:  # bad Max-Forwards, bad CSeq
        return rnd.choice([base.replace(b"Max-Forwards: 70", b"Max-Forwards: -5"),
                           base.replace(b"Max-Forwards: 70", b"Max-Forwards: 9999999999999"),
                           base.replace(b"Max-Forwards: 70", b"Max-Forwards:"),
                           base.replace(b"CSeq: 1 INVITE", b"CSeq: x INVITE"),
                           base.replace(b"CSeq: 1 INVITE", b"CSeq: 1 BYE"),
                           base.replace(b"CSeq: 1 INVITE", b"CSeq: 99999999999999 INVITE")])
    if kind == 10:  # a response nobody asked for
        return (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK-swdeadbeef"
                b"\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>"
                b"\r\nContent-Length: 0\r\n\r\n")
    if kind == 11:  # very long header line and long URIs
        return base.replace(b"sip:12025550199@example.com",
                            b"sip:" + b"9" * rnd.randrange(1000, 30000) + b"@example.com", 1)
    if kind == 12:  # headers without colons, lone LF, bare CR
        return rnd.choice([base.replace(b"To: ", b"To "), base.replace(b"\r\n", b"\n"),
                           base.replace(b"\r\n", b"\r"), base.replace(b"\r\n\r\n", b"\r\n")])
    if kind == 13:  # broken From/To/PAI numbers for the sign filter
        return rnd.choice([
            base.replace(b"From: <sip:12025550100@example.com>",
                         b"From: <sip:+" + b"1" * 300 + b"@x>"),
            base.replace(b"From: <sip:12025550100@example.com>", b"From: <>"),
            base.replace(b"To: <sip:12025550199@example.com>", b"To: <tel:>"),
            base.replace(b"CSeq:", b"P-Asserted-Identity: <sip:@>, <<<>>>\r\nCSeq:"),
            base.replace(b"CSeq:", b"Identity: garbage;info=<\r\nCSeq:"),
            base.replace(b"CSeq:", b"Date: not a date\r\nCSeq:")])
    # random byte flips in a valid message
    b = bytearray(base)
    for _ in range(rnd.randrange(1, 30)):
        b[rnd.randrange(len(b))] = rnd.randrange(256)
    return bytes(b)


def cmd_flood(a):
    pip, pport = hostport(a.proxy)
    rnd = random.Random(4242)
    src = udp_socket(a.src)
    port = src.getsockname()[1]
    sent = 0
    for n in range(a.count):
        msg = malformed(a.src, port, n, rnd)[:65000]
        try:
            src.sendto(msg, (pip, pport))
            sent += 1
        except OSError as e:
            print("#   datagram %d (%d bytes) not sent: %s" % (n, len(msg), e))
        if n % 50 == 49:
            time.sleep(0.02)  # do not just overflow the socket buffer
    ok("flood: %d malformed datagrams sent over UDP" % sent)
    streams = 0
    for n in range(a.tcp):
        try:
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.bind((a.src, 0))
            c.settimeout(2)
            c.connect((pip, pport))
            kind = n % 5
            if kind == 0:
                c.sendall(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 20000))))
            elif kind == 1:  # headers that never end
                c.sendall(b"INVITE sip:a@b SIP/2.0\r\n" + b"X-Long: " + b"z" * 100000)
            elif kind == 2:  # a Content-Length promising more than comes
                c.sendall(simple_invite(a.src, 1, b"tcpbad-%d" % n, transport=b"TCP")
                          .replace(b"Content-Length: ", b"Content-Length: 9999"))
            elif kind == 3:  # negative and absurd Content-Length, then garbage
                c.sendall(b"INVITE sip:a@b SIP/2.0\r\nContent-Length: -7\r\n\r\n" +
                          b"OPTIONS x\r\nl: 99999999999999999999999\r\n\r\n" + b"\x00" * 300)
            else:  # only keep-alives and NULs
                c.sendall(b"\r\n" * 1000 + b"\x00\r\n\r\n" * 100)
            c.close()
            streams += 1
        except OSError as e:
            print("#   TCP stream %d: %s" % (n, e))
    if streams == a.tcp:
        ok("flood: %d garbage TCP streams sent" % streams)
    else:
        nok("flood: only %d of %d garbage TCP streams could be sent" % (streams, a.tcp))


# --- sipp message traces ------------------------------------------------------------------

def cmd_trace(a):
    with open(a.file, "rb") as f:
        text = f.read()
    # sipp writes "---...--- date\n<transport> message received [N] bytes :\n\n<msg>"
    parts = re.split(rb"\n-{20,} [^\n]*\n", b"\n" + text)
    for p in parts:
        m = re.match(rb"(UDP|TCP|TLS) message received \[\d+\] bytes :\n\n", p)
        if not m:
            continue
        msg = p[m.end():].replace(b"\r\n", b"\n")
        head = msg.split(b"\n\n", 1)[0]
        lines = head.split(b"\n")
        if lines[0].startswith(b"SIP/2.0"):
            continue
        method = lines[0].split(b" ")[0]
        callid = (header_values(lines[1:], "call-id", "i") or [b"-"])[0]
        vias = header_values(lines[1:], "via", "v")
        br = re.search(rb";branch=([^;, ]+)", vias[0]) if vias else None
        ident = (header_values(lines[1:], "identity", "y") or [b"-"])[0]
        print("\t".join(x.decode("latin-1") for x in
                        (method, callid, br.group(1) if br else b"-", ident)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("diff", "maxfwd", "reply", "tcpframe", "bigtcp", "flood"):
        p = sub.add_parser(name)
        p.add_argument("--proxy", required=True)
        p.add_argument("--src", required=True)
        if name in ("diff", "maxfwd", "tcpframe", "bigtcp"):
            p.add_argument("--sink", required=True)
        if name == "diff":
            p.add_argument("--save", required=True)
        if name == "reply":
            p.add_argument("--status", type=int, required=True)
            p.add_argument("--what", default="reply")
        if name == "flood":
            p.add_argument("--count", type=int, default=300)
            p.add_argument("--tcp", type=int, default=20)
    p = sub.add_parser("trace")
    p.add_argument("file")
    a = ap.parse_args()
    for addr in (getattr(a, "proxy", None), getattr(a, "sink", None)):
        if addr and not hostport(addr)[0].startswith("127."):
            sys.exit("sipdiff.py: loopback addresses only")
    {"diff": cmd_diff, "maxfwd": cmd_maxfwd, "reply": cmd_reply, "tcpframe": cmd_tcpframe,
     "bigtcp": cmd_bigtcp, "flood": cmd_flood, "trace": cmd_trace}[a.cmd](a)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
