#!/usr/bin/env python3
"""rfc4475.py - every RFC 4475 torture message through a running stirwired, over UDP and
over TCP, with each message's outcome asserted (driven by rfc4475.sh, which starts the
daemon; see there).

stirwired listens on 127.0.0.1:PORT; its trunk takes requests from 127.0.0.1 to a UDP
sink on 127.0.0.7:SINK that this script runs. Each message is sent as it is in
tests/data/rfc4475/ (bit-exact, RFC 4475 section 4), from its own socket or connection,
followed by a valid OPTIONS probe on the same socket: one worker handles a socket's
messages in order, so when the probe reaches the sink everything the message caused has
been sent, and "dropped" needs no waiting. Outcomes:
  fwd     the sink got it: the bytes sent (cut at Content-Length) plus only our edits (our
          Via on top, Record-Route on dialog-creating requests - one for UDP in, the RFC
          5658 pair for TCP in and UDP out - received/rport on the top Via, Max-Forwards
          decremented or 70 added)
  NNN     we got a reply with that status, on the socket or connection we sent from
  drop    neither
  closed  TCP only: stirwired closed the connection (the stream cannot be framed)
  partial TCP only: stirwired waits for the rest (nothing sent, connection kept)
A TCP outcome can be a list: the outcomes of the messages the stream holds, in order.
Then, beyond RFC 4475: an INVITE too large for a datagram toward the UDP-only sink is
answered 513, over UDP and over TCP. Prints one "ok - " / "FAIL - " line per check.

Usage: rfc4475.py DATADIR PORT SINK
"""
import os
import re
import socket
import sys
import time

# file, RFC 4475 section, outcome over UDP, over TCP, why (RFC 4475 / RFC 3261 16.3)
TABLE = [
    ("wsinv", "3.1.1.1", "fwd", "fwd", "valid: white space, folding and escapes are legal"),
    ("intmeth", "3.1.1.2", "fwd", "fwd", "valid: unknown method; NUL, BEL, DEL in a quoted-pair are legal"),
    ("esc01", "3.1.1.3", "fwd", "fwd", "valid use of % escaping"),
    ("escnull", "3.1.1.4", "fwd", "fwd", "valid: escaped NULs in URIs"),
    ("esc02", "3.1.1.5", "fwd", "fwd", "valid: % that is no escape, in an unknown method"),
    ("lwsdisp", "3.1.1.6", "fwd", "fwd", "valid: no LWS between display name and <"),
    ("longreq", "3.1.1.7", "fwd", "fwd", "valid: long values (3.5 KB, fragmented UDP to a UDP-only hop)"),
    ("dblreq", "3.1.1.8", "fwd", ["fwd", "fwd", "closed"], "valid: UDP drops what follows Content-Length; TCP frames it as the next message"),
    ("semiuri", "3.1.1.9", "fwd", "fwd", "valid: ; in the user part"),
    ("transports", "3.1.1.10", "fwd", "fwd", "valid: unknown transports in lower Vias"),
    ("mpart01", "3.1.1.11", "fwd", "fwd", "valid: multipart body with binary octets"),
    ("unreason", "3.1.1.12", "drop", "drop", "valid response, but its top Via is not ours (RFC 3261 16.7 step 3)"),
    ("noreason", "3.1.1.13", "drop", "drop", "valid response without reason phrase; top Via not ours"),
    ("badinv01", "3.1.2.1", 400, 400, "extraneous header separators: two To, two Call-ID"),
    ("clerr", "3.1.2.2", 400, "partial", "Content-Length larger than the datagram; a stream waits for the rest"),
    ("ncl", "3.1.2.3", 400, "closed", "negative Content-Length; a stream cannot be framed"),
    ("scalar02", "3.1.2.4", 400, 400, "overlarge CSeq and Max-Forwards"),
    ("scalarlg", "3.1.2.5", "drop", "drop", "response with overlarge scalars: nobody to answer"),
    ("quotbal", "3.1.2.6", "fwd", "fwd", "unterminated quote in To: RFC 3261 16.3 step 1, a proxy leaves To alone"),
    ("ltgtruri", "3.1.2.7", 400, 400, "Request-URI in <>: a proxy must not forward it"),
    ("lwsruri", "3.1.2.8", 400, 400, "LWS inside the Request-URI"),
    ("lwsstart", "3.1.2.9", 400, 400, "several SP between request-line elements"),
    ("trws", "3.1.2.10", 400, 400, "SP after SIP/2.0 at the end of the request line"),
    ("escruri", "3.1.2.11", 400, 400, "escaped headers in the Request-URI: a proxy must not forward them"),
    ("baddate", "3.1.2.12", "fwd", "fwd", "non-GMT Date: reject only when the Date matters; a proxy carries it"),
    ("regbadct", "3.1.2.13", "fwd", "fwd", "Contact URI with headers outside <>: the registrar judges; unambiguous"),
    ("badaspec", "3.1.2.14", "fwd", "fwd", "spaces in To's addr-spec: a proxy does not use To"),
    ("baddn", "3.1.2.15", "fwd", "fwd", "non-token display names: a proxy does not use them"),
    ("badvers", "3.1.2.16", 505, 505, "SIP/7.0: 505 Version Not Supported"),
    ("mismatch01", "3.1.2.17", 400, 400, "CSeq method does not match the request line"),
    ("mismatch02", "3.1.2.18", 400, 400, "unknown method with a CSeq method mismatch"),
    ("bigcode", "3.1.2.19", "drop", "drop", "response code over 699"),
    ("badbranch", "3.2.1", "fwd", "fwd", "branch is only the magic cookie: an RFC 2543 request"),
    ("insuf", "3.3.1", 400, 400, "no From, To, Call-ID"),
    ("unkscm", "3.3.2", 416, 416, "unknown Request-URI scheme"),
    ("novelsc", "3.3.3", 416, 416, "known but atypical scheme we never take"),
    ("unksm2", "3.3.4", "fwd", "fwd", "unknown schemes in To, From, Contact: forward as any request"),
    ("bext01", "3.3.5", 420, 420, "Proxy-Require with options we lack: 420 with Unsupported"),
    ("invut", "3.3.6", "fwd", "fwd", "unknown Content-Type: the UAS answers 415, not a proxy"),
    ("regaut01", "3.3.7", "fwd", "fwd", "unknown Authorization scheme: for the registrar"),
    ("multi01", "3.3.8", 400, 400, "several values in single-value headers"),
    ("mcl01", "3.3.9", 400, "closed", "two Content-Length values; a stream cannot be framed"),
    ("bcast", "3.3.10", "drop", "drop", "response not through us (tests/unit/test_rfc4475.c also sends it through us: dropped)"),
    ("zeromf", "3.3.11", 483, 483, "Max-Forwards 0"),
    ("cparam01", "3.3.12", "fwd", "fwd", "unusual Content-Type parameters"),
    ("cparam02", "3.3.13", "fwd", "fwd", "Content-Type parameters with quoted strings"),
    ("regescrt", "3.3.14", "fwd", "fwd", "escaped Route in a Contact URI: for the registrar"),
    ("sdp01", "3.3.15", "fwd", "fwd", "unacceptable Accept: for the UAS"),
    ("inv2543", "3.4.1", "fwd", "closed", "RFC 2543 INVITE; no Content-Length, which a stream needs"),
    ("test", "4", "drop", "drop", "no SIP version, no Via: nothing to answer"),
]

DATADIR, PORT, SINK = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
SW = ("127.0.0.1", PORT)
npass = nfail = 0


def ok(what):
    global npass
    npass += 1
    print("ok   - " + what, flush=True)


def nok(what):
    global nfail
    nfail += 1
    print("FAIL - " + what, flush=True)


sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sink.bind(("127.0.0.7", SINK))
sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)


def messages(data):
    """The messages a stream of data frames into (header end + Content-Length), with
    what is left; a message without Content-Length takes the rest (a datagram)."""
    out = []
    while data:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            break
        end += 4
        m = re.search(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*\r?$", data[:end])
        n = end + int(m.group(1)) if m else len(data)
        out.append(data[:n])
        data = data[n:].lstrip(b"\r\n")
    return out


def probe(n, port, transport):
    return (
        "OPTIONS sip:probe@127.0.0.7 SIP/2.0\r\n"
        "Via: SIP/2.0/%s 127.0.0.1:%d;branch=z9hG4bK-probe%d\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:p@127.0.0.1>;tag=p%d\r\nTo: <sip:p@127.0.0.7>\r\n"
        "Call-ID: probe%d@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        % (transport, port, n, n, n)
    ).encode()


def sink_until(callid, timeout=3.0):
    """Datagrams the sink gets until the one carrying callid; None on timeout."""
    got, end = [], time.time() + timeout
    while time.time() < end:
        sink.settimeout(max(0.01, end - time.time()))
        try:
            d, _ = sink.recvfrom(70000)
        except socket.timeout:
            break
        if callid in d:
            return got
        got.append(d)
    return None


def sink_quiet(secs):
    got = []
    sink.settimeout(secs)
    try:
        while True:
            got.append(sink.recvfrom(70000)[0])
    except socket.timeout:
        pass
    return got


def undo(got, orig, srcport, tcp_in):
    """got with our edits taken out, or a string saying which edit is wrong."""
    # our Via right above the first Via line as it came (which need not be the second line)
    m = re.search(
        rb"\r\nVia: SIP/2\.0/UDP 127\.0\.0\.1:%d;branch=z9hG4bK-sw[0-9a-f]{16};rport\r\n"
        rb"(?:Record-Route: [^\r]*\r\n)*(?i:via|v)[ \t]*:" % PORT, got)
    if not m or re.search(rb"(?im)^(?:via|v)[ \t]*:", got[:m.start() + 2]):
        return "our Via is not right above the first Via"
    i = m.start() + 2
    got = got[:i] + got[got.index(b"\r\n", i) + 2:]
    rr = re.compile(rb"Record-Route: <sip:127\.0\.0\.1:%d;lr(;transport=(?:udp|tcp))?>\r\n" % PORT)
    want = []
    if orig.split(b" ", 1)[0] in (b"INVITE", b"SUBSCRIBE", b"REFER", b"NOTIFY"):
        want = [b";transport=udp", b";transport=tcp"] if tcp_in else [None]
    have = [x.group(1) for x in rr.finditer(got)]
    if have != want:
        return "Record-Route %r, want %r" % (have, want)
    got = rr.sub(b"", got)
    if b";received=127.0.0.1" in got and b";received=127.0.0.1" not in orig:
        got = got.replace(b";received=127.0.0.1", b"", 1)
    # RFC 3261 18.2.2: a TCP request whose top Via says TCP and has no rport gets
    # ;rport=<source port>, so that its responses find its connection
    sp = rb"[ \t\r\n]*"  # white space, folding included (wsinv folds its Via)
    top = re.search(rb"(?im)^(?:via|v)[ \t]*:" + sp + rb"SIP" + sp + rb"/" + sp + rb"2\.0" + sp +
                    rb"/" + sp + rb"(\w+)([^\r\n,]*)", orig)
    if tcp_in and top and top.group(1).upper() == b"TCP" and b";rport" not in top.group(2).lower():
        if b";rport=%d" % srcport not in got:
            return "no ;rport=%d on the TCP Via" % srcport
        got = got.replace(b";rport=%d" % srcport, b"", 1)
    got = got.replace(b";rport=%d" % srcport, b";rport", 1)
    mf = re.compile(rb"(?im)^Max-Forwards[ \t]*:[ \t]*(\d+)")
    a, b = mf.search(orig), mf.search(got)
    if a:
        if not b or int(b.group(1)) != int(a.group(1)) - 1:
            return "Max-Forwards %s, want %d" % (b and b.group(1), int(a.group(1)) - 1)
        got = got[:b.start(1)] + a.group(1) + got[b.end(1):]
    else:
        if b"Max-Forwards: 70\r\n\r\n" not in got:
            return "no Max-Forwards: 70 added"
        got = got.replace(b"Max-Forwards: 70\r\n\r\n", b"\r\n", 1)
    return got


def check_fwd(name, got, orig, srcport, tcp_in):
    r = undo(got, orig, srcport, tcp_in)
    if isinstance(r, str):
        nok("%s: forwarded, but %s" % (name, r))
    elif r != orig:
        k = next((j for j in range(min(len(r), len(orig))) if r[j] != orig[j]), min(len(r), len(orig)))
        nok("%s: forwarded %d bytes differ from the %d sent + our edits at %d: %r / %r"
            % (name, len(got), len(orig), k, r[k:k + 40], orig[k:k + 40]))
    else:
        ok("%s: forwarded byte-exact (%d bytes sent, %d forwarded)" % (name, len(orig), len(got)))


def status_of(reply):
    m = re.match(rb"SIP/2\.0 (\d{3}) ", reply)
    return int(m.group(1)) if m else None


def judge(name, want, fwd, replies, msgs, srcport, tcp_in):
    """One message's outcome from what the sink and the sender got."""
    if want == "fwd":
        if len(fwd) != 1 or replies:
            nok("%s: want forwarded; sink got %d, sender got %s" % (name, len(fwd), [status_of(r) for r in replies]))
        else:
            check_fwd(name, fwd[0], msgs, srcport, tcp_in)
    elif want == "drop":
        if fwd or replies:
            nok("%s: want dropped; sink got %d, sender got %s" % (name, len(fwd), [status_of(r) for r in replies]))
        else:
            ok("%s: dropped" % name)
    else:
        st = [status_of(r) for r in replies]
        if fwd or st != [want]:
            nok("%s: want %d; sink got %d, sender got %s" % (name, want, len(fwd), st))
        else:
            ok("%s: answered %d" % (name, want))


def run_udp(n, name, sec, want, why, data):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.sendto(data, SW)
    s.sendto(probe(n, port, "UDP"), SW)
    fwd = sink_until(b"probe%d@" % n)
    if fwd is None:
        nok("%s over UDP: the probe after it never reached the sink" % name)
        return
    replies = []
    s.settimeout(0.05 if want in ("fwd", "drop") else 1.0)
    try:
        while True:
            r = s.recv(70000)
            if status_of(r) is not None:
                replies.append(r)
            s.settimeout(0.05)
    except socket.timeout:
        pass
    s.close()
    judge("%s (%s) over UDP [%s]" % (name, sec, why), want, fwd, replies, messages(data)[0] if want == "fwd" else data, port, False)


def read_replies(c, secs):
    buf, end = b"", time.time() + secs
    closed = False
    while time.time() < end:
        c.settimeout(max(0.01, end - time.time()))
        try:
            d = c.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            closed = True
            break
        if not d:
            closed = True
            break
        buf += d
        end = min(end, time.time() + 0.05)
    return messages(buf), closed


def run_tcp(n, name, sec, want, why, data):
    wants = want if isinstance(want, list) else [want]
    c = socket.create_connection(SW)
    port = c.getsockname()[1]
    label = "%s (%s) over TCP [%s]" % (name, sec, why)
    if wants[-1] == "partial":
        c.sendall(data)
        fwd = sink_quiet(0.4)
        replies, closed = read_replies(c, 0.1)
        if fwd or replies or closed:
            nok("%s: want stirwired waiting; sink got %d, replies %d, closed %s" % (label, len(fwd), len(replies), closed))
        else:
            ok("%s: stirwired waits for the rest" % label)
        c.close()
        return
    if wants[-1] == "closed":
        c.sendall(data)
        replies, closed = read_replies(c, 3.0)
        fwd = sink_quiet(0.2)
        got_fwd = sum(1 for w in wants if w == "fwd")
        if not closed or len(fwd) != got_fwd or replies:
            nok("%s: want %d forwarded then the connection closed; sink got %d, replies %d, closed %s"
                % (label, got_fwd, len(fwd), len(replies), closed))
        else:
            ok("%s: connection closed after %d forwarded" % (label, got_fwd))
            for f, m in zip(fwd, messages(data)):
                check_fwd("%s message" % label, f, m, port, True)
        c.close()
        return
    c.sendall(data + probe(n, port, "TCP"))
    fwd = sink_until(b"probe%d@" % n)
    if fwd is None:
        nok("%s: the probe after it never reached the sink" % label)
        c.close()
        return
    replies, closed = read_replies(c, 0.05 if wants[0] in ("fwd", "drop") else 1.0)
    c.close()
    judge(label, wants[0], fwd, replies, messages(data)[0] if wants[0] == "fwd" else data, port, True)


files = sorted(f[:-4] for f in os.listdir(DATADIR) if f.endswith(".dat"))
names = [t[0] for t in TABLE]
if sorted(names) == files and len(files) == 50:
    ok("the table has one line for each of the 50 files of the archive")
else:
    nok("table and archive differ: %s" % sorted(set(names) ^ set(files)))
for i, (name, sec, udp, tcp, why) in enumerate(TABLE):
    with open(os.path.join(DATADIR, name + ".dat"), "rb") as fp:
        data = fp.read()
    run_udp(2 * i, name, sec, udp, why, data)
    run_tcp(2 * i + 1, name, sec, tcp, why, data)


def big_invite(size, transport, port):
    """An INVITE of exactly size bytes (a padded body), from 127.0.0.1:port."""
    head = ("INVITE sip:+12025550199@127.0.0.7 SIP/2.0\r\n"
            "Via: SIP/2.0/%s 127.0.0.1:%d;branch=z9hG4bK-big%d\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:+12025550100@127.0.0.1>;tag=b\r\n"
            "To: <sip:+12025550199@127.0.0.7>\r\nCall-ID: big%d@127.0.0.1\r\n"
            "CSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n" % (transport, port, size, size))
    body = size - len(head) - len("Content-Length: 00000\r\n\r\n")
    return ("%sContent-Length: %05d\r\n\r\n" % (head, body)).encode() + b"x" * body


# Beyond RFC 4475 (RFC 3261 21.5.10): a request that no transport of the next hop takes at
# its size is answered 513. The sink takes UDP only: 65450 bytes plus our edits is more than
# a datagram holds, whether it came over UDP or over TCP.
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.sendto(big_invite(65450, "UDP", s.getsockname()[1]), SW)
s.settimeout(3.0)
try:
    st = status_of(s.recv(70000))
except socket.timeout:
    st = None
fwd = sink_quiet(0.2)
if st == 513 and not fwd:
    ok("65450-byte INVITE over UDP toward a UDP-only hop: 513")
else:
    nok("65450-byte INVITE over UDP toward a UDP-only hop: reply %s, sink got %d" % (st, len(fwd)))
s.close()
c = socket.create_connection(SW)
c.sendall(big_invite(65450, "TCP", c.getsockname()[1]))
replies, closed = read_replies(c, 3.0)
fwd = sink_quiet(0.2)
st = [status_of(r) for r in replies]
if st == [513] and not fwd:
    ok("65450-byte INVITE over TCP toward a UDP-only hop: 513 on the connection")
else:
    nok("65450-byte INVITE over TCP toward a UDP-only hop: replies %s, sink got %d" % (st, len(fwd)))
c.close()
print("# rfc4475.py: %d passed, %d failed" % (npass, nfail))
sys.exit(1 if nfail else 0)
