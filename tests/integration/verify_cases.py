#!/usr/bin/env python3
"""verify_cases.py - the case table of tests/integration/verify_sipp.sh and
verify_slow.sh, and what drives it: tokens from every signer, the SIP requests, the sipp
scenarios, the expected outcome of each case under each trunk policy, and the comparison
of stirwired (as a sipp caller sees it) with `stirwire check --sip --json`.

One table, CASES, drives both verifiers: each case is one request (a token made by
`stirwire sign`, secsipidx, stirwired's sign filter or Kamailio's secsipid module, or
none, then perhaps tampered with), and one expected library outcome (an sw_err name).
From that name and a trunk's policy, outcome() derives what a SIP peer must see (status,
Reason cause, verstat), using the library's table (src/lib/stirwire.h SW_ERR_MAP) and the
verify filter's settings as stirwired(8) documents them (policy reject/tag/pass, reject
classes, fetch_failure, anonymous). The same request, written to a file, goes to `stirwire check --sip FILE
--json` with the same trust settings, whose error/sip_status/reason_header/verstat must
be the library outcome itself.

Subcommands (all take --env ENV.json, written by the shell script):
  conf OUT [--instance main|crlfile]
                     the verifying stirwired's configuration (its trunks are TRUNKS)
  uas-scenario OUT   the UAS (PBX side): answers 200 and echoes the verstat it saw in
                     P-Asserted-Identity and From as "X-Verstat: pai=V;from=V"
  run                every case under every trunk, and through `stirwire check --sip`
  slow               verify_slow.sh's parked call: an INVITE whose x5u is slow, sent
                     again with the same branch while it waits; a sink counts what arrives
  load-scenario OUT  verify_slow.sh's load: calls with a cached certificate, 200 within 1 s
  mock               a stand-in for stirwired's verify/verstat filters that answers from
                     the case table (checks this harness itself: MOCK=1 verify_sipp.sh)

Output: one line per check, "ok   - ..." or "FAIL - ..." ("skip - ..." for a check whose
peer is not installed), as tests/integration/lib.sh counts them. 127.0.0.1/8 only.
"""

import argparse
import base64
import email.utils
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

# --- the library's outcome table (src/lib/stirwire.h SW_ERR_MAP) --------------------------
# name: (class, SIP status, verstat). Only the outcomes this table uses.
ERRS = {
    "OK": ("OK", 200, "TN-Validation-Passed"),
    "IDENTITY_MISSING": ("MISSING", 428, "No-TN-Validation"),
    "SIGNATURE": ("SIGNATURE", 438, "TN-Validation-Failed"),
    "STALE": ("STALE", 403, "TN-Validation-Failed"),
    "FUTURE": ("STALE", 403, "TN-Validation-Failed"),
    "DATE_STALE": ("STALE", 403, "TN-Validation-Failed"),
    "ORIG_MISMATCH": ("CLAIMS", 438, "TN-Validation-Failed"),
    "DEST_MISMATCH": ("CLAIMS", 438, "TN-Validation-Failed"),
    "X5U_MISMATCH": ("CERT", 436, "TN-Validation-Failed"),
    "CERT_PRIVATE": ("CERT", 436, "TN-Validation-Failed"),
    "CERT_CONNECT": ("CERT", 436, "TN-Validation-Failed"),
    "CERT_UNTRUSTED": ("CERT", 437, "TN-Validation-Failed"),
    "CERT_EXPIRED": ("CERT", 437, "TN-Validation-Failed"),
    "CERT_REVOKED": ("CERT", 437, "TN-Validation-Failed"),
    "CERT_TNAUTH": ("CERT", 437, "TN-Validation-Failed"),
    "NO_TN": ("MISSING", 433, "No-TN-Validation"),
}
# "the certificate could not be had in time" (contract: fetch_failure).
FETCH_FAILURES = {"CERT_CONNECT", "CERT_TIMEOUT", "CERT_HTTP_STATUS"}
DEFAULT_REJECT = ["malformed", "stale", "claims", "signature", "cert"]

# --- the trunks of the verifying stirwired (verify_sipp.sh writes them from this) ---------
# Each: source address of its caller, and its verify group. "chain" takes the calls that
# a signer (a second stirwired, Kamailio) forwards from 127.0.0.1.
TRUNKS = {
    "reject": {"src": "127.0.0.2", "policy": "reject", "reject": DEFAULT_REJECT,
               "fetch_failure": "open", "anonymous": "no-tn"},
    "tag": {"src": "127.0.0.3", "policy": "tag", "reject": DEFAULT_REJECT,
            "fetch_failure": "open", "anonymous": "no-tn"},
    "pass": {"src": "127.0.0.4", "policy": "pass", "reject": DEFAULT_REJECT,
             "fetch_failure": "open", "anonymous": "no-tn"},
    "strict": {"src": "127.0.0.5", "policy": "reject", "reject": DEFAULT_REJECT + ["missing"],
               "fetch_failure": "closed", "anonymous": "reject"},
    "chain": {"src": "127.0.0.1", "policy": "reject", "reject": DEFAULT_REJECT,
              "fetch_failure": "open", "anonymous": "no-tn"},
}
CASE_TRUNKS = ["reject", "tag", "pass", "strict"]


def outcome(err, trunk):
    """(status, Reason cause or None, verstat or None) a caller and the PBX must see for
    library outcome err on trunk (a TRUNKS key)."""
    t = TRUNKS[trunk]
    cls, status, verstat = ERRS[err]
    if err == "OK":
        pass
    elif err == "NO_TN":
        if t["anonymous"] == "reject":
            return (433, 433, None)
    elif err in FETCH_FAILURES and t["fetch_failure"] == "open":
        verstat = "No-TN-Validation"
    elif t["policy"] == "reject" and (cls.lower() in t["reject"] or err in FETCH_FAILURES):
        return (status, status, None)
    if t["policy"] == "pass":
        verstat = None
    return (200, None, verstat)


def verify_group(trunk):
    """The trunk's verify group, in stirwired's configuration syntax."""
    t = TRUNKS[trunk]
    return ('verify = { policy = "%s"; reject = [ %s ]; fetch_failure = "%s"; '
            'anonymous = "%s"; };' % (t["policy"], ", ".join('"%s"' % r for r in t["reject"]),
                                      t["fetch_failure"], t["anonymous"]))


def cmd_conf(env, inst, out):
    """The verifying stirwired's configuration for instance inst ("main": the CRL from
    the certificate's distribution point; "crlfile": from a file only)."""
    i = env.instances[inst]
    crl = ("crl_files = [ \"%s\" ]; crl_fetch = false;" % os.path.join(env.pki, "inter.crl")
           if inst == "crlfile" else "crl_fetch = true;")
    trunks = []
    for name, t in TRUNKS.items():
        trunks.append('    { name = "%s"; match = { source = [ "%s/32" ]; };\n'
                      '      next_hop = "sip:%s:%d"; filters = [ "verify", "verstat", "audit" ];\n'
                      '      %s\n      audit = { output = "%s"; }; }'
                      % (name, t["src"], env.uas_ip, env.uas_port, verify_group(name),
                         os.path.join(env.work, "audit-%s.jsonl" % inst)))
    text = """# written by tests/integration/verify_cases.py (verify_sipp.sh), instance %s
listen = ( { address = "127.0.0.1"; port = %d; transport = [ "udp" ]; } );
workers = 2;
log = { level = "info"; };
verifier = {
    ca_file = "%s";
    %s
    allow_networks = [ "127.0.0.0/8" ]; allow_any_port = true;
    tls_ca_file = "%s";
    connect_timeout_ms = 2000; timeout_ms = 4000;
};
trunks = (
%s
);
""" % (inst, i["port"], os.path.join(env.pki, "root.pem"), crl, env.tls_ca, ",\n".join(trunks))
    with open(out, "w") as f:
        f.write(text)


# --- the cases ----------------------------------------------------------------------------
ORIG = "12025550100"
DEST = "12025550199"
# Decisions these cases pin down (stirwired(8) says the same):
#  - div-only: a request whose only Identity is a div PASSporT has no shaken one, so it is
#    IDENTITY_MISSING (428 only where "missing" is a reject class), not malformed;
#  - anonymous: no header carries a telephone number, so the PBX sees no verstat at all
#    (the verdict's verstat, which `stirwire check` reports, is still No-TN-Validation);
#  - CERT_PRIVATE is a policy refusal, not a fetch failure: fetch_failure "open" does not
#    turn it into a tag.
# Each case: name; signer (stirwire, secsipidx, sign-filter, kamailio, div, none); cert
# (what the token names: a name in the PKI, "other" for the second root's sp, or a URL
# kind); mutation; the library outcome; which verifying instance; extra options.
CASES = [
    # Signers first: their tokens are made at the start and must still be fresh.
    dict(name="signed-by-sign-filter", signer="sign-filter", err="OK"),
    dict(name="signed-by-kamailio", signer="kamailio", err="OK", plus=False),
    dict(name="signed-by-secsipidx", signer="secsipidx", err="OK"),
    dict(name="signed-by-stirwire", signer="stirwire", err="OK", date="fresh"),
    dict(name="tampered-signature", mutate="flip-sig", err="SIGNATURE"),
    dict(name="stale-iat", iat=-120, err="STALE"),
    dict(name="future-iat", iat=+60, err="FUTURE"),
    dict(name="stale-date-header", date="stale", err="DATE_STALE"),
    dict(name="wrong-orig", call_orig="12025550111", err="ORIG_MISMATCH"),
    dict(name="wrong-dest", call_dest="12025550188", err="DEST_MISMATCH"),
    dict(name="untrusted-selfsigned", cert="selfsigned", err="CERT_UNTRUSTED"),
    dict(name="untrusted-other-root", cert="other", err="CERT_UNTRUSTED"),
    dict(name="expired-cert", cert="expired", err="CERT_EXPIRED"),
    dict(name="revoked-by-crl-dp", cert="revoked", err="CERT_REVOKED"),
    dict(name="revoked-by-crl-file", cert="revoked", err="CERT_REVOKED", instance="crlfile"),
    dict(name="valid-with-crl-file", err="OK", instance="crlfile"),
    dict(name="no-tnauthlist", cert="notnauth", err="CERT_TNAUTH"),
    dict(name="x5u-not-info", mutate="info-other", err="X5U_MISMATCH"),
    dict(name="x5u-private-address", cert="private", err="CERT_PRIVATE"),
    dict(name="x5u-unreachable", cert="closed", err="CERT_CONNECT"),
    dict(name="div-only", signer="div", err="IDENTITY_MISSING"),
    dict(name="anonymous-caller", anonymous=True, err="NO_TN"),
    dict(name="unsigned", signer="none", err="IDENTITY_MISSING"),
    # A forged verstat from upstream must be replaced; under "pass" the filter changes
    # nothing at all (stirwired(8), verstat), so tag and reject only.
    dict(name="forged-verstat-bad-signature", mutate="flip-sig", forged_verstat=True,
         err="SIGNATURE", trunks=["tag", "reject"]),
]


class Env:
    def __init__(self, path):
        with open(path) as f:
            self.__dict__.update(json.load(f))


def say(ok, text):
    print(("ok   - " if ok else "FAIL - ") + text, flush=True)


def skip(text):
    print("skip - " + text, flush=True)


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def http_date(t):
    return email.utils.formatdate(t, usegmt=True)


# --- tokens -------------------------------------------------------------------------------
def cert_of(env, case):
    """(key file, x5u) for the case's cert."""
    c = case.get("cert", "sp")
    pki = env.pki
    if c == "other":
        return os.path.join(pki, "other", "sp.key"), env.base + "/other/sp-chain.pem"
    if c == "private":
        # Never fetched: 10.0.0.0/8 is not in allow_networks, so the verifier refuses it
        # before it connects (and the CLI gets no --allow-private for this case).
        return os.path.join(pki, "sp.key"), "https://10.255.255.1/sp.pem"
    if c == "closed":
        return (os.path.join(pki, "sp.key"),
                "https://127.0.0.1:%d/sp-chain.pem" % env.closed_port)
    return os.path.join(pki, c + ".key"), "%s/%s-chain.pem" % (env.base, c)


def sw_sign(env, key, x5u, orig, dest, iat=None):
    cmd = [env.stirwire, "sign", "--orig", orig, "--dest", dest, "--attest", "A",
           "--x5u", x5u, "--key", key]
    if iat is not None:
        cmd += ["--iat", str(int(iat))]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("stirwire sign: exit %d: %s" % (r.returncode, r.stderr.strip()))
    return r.stdout.strip()


def es256_openssl(key, data):
    """ES256 (raw r||s, RFC 7518 section 3.4) of data with the openssl CLI."""
    der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=data,
                         capture_output=True, check=True).stdout
    # ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }, short lengths for P-256.
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 3
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        v = der[i + 2:i + 2 + n]
        out += v.lstrip(b"\0").rjust(32, b"\0")
        i += 2 + n
    return out


def div_token(env, key, x5u, orig, dest, div):
    """A div PASSporT (RFC 8946) alone: orig, dest (the number called now) and div (the
    number that diverted), canonical JSON (RFC 8225 section 9)."""
    hdr = {"alg": "ES256", "ppt": "div", "typ": "passport", "x5u": x5u}
    pl = {"dest": {"tn": [dest]}, "div": {"tn": div}, "iat": int(time.time()),
          "orig": {"tn": orig}}
    enc = lambda o: b64u(json.dumps(o, sort_keys=True, separators=(",", ":")).encode())
    signing = enc(hdr) + "." + enc(pl)
    sig = b64u(es256_openssl(key, signing.encode()))
    return "%s.%s;info=<%s>;alg=ES256;ppt=div" % (signing, sig, x5u)


def flip_sig(ident):
    jwt, rest = ident.split(";", 1)
    h, p, s = jwt.split(".")
    i = len(s) // 2  # a middle character: all six of its bits are signature bits
    s = s[:i] + ("A" if s[i] != "A" else "B") + s[i + 1:]
    return "%s.%s.%s;%s" % (h, p, s, rest)


# --- SIP requests -------------------------------------------------------------------------
def invite_lines(case, ident, sipp, callid, date=None):
    """The INVITE's lines; with sipp=True they carry sipp keywords, else fixed values for
    the request file that `stirwire check --sip` reads. Everything a verifier reads is
    the same in both."""
    orig = case.get("call_orig", ORIG)
    dest = case.get("call_dest", DEST)
    plus = "+" if case.get("plus", True) else ""
    vs = ";verstat=TN-Validation-Passed" if case.get("forged_verstat") else ""
    if sipp:
        via = "SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]"
        tag = "[pid]vc[call_number]"
        contact = "<sip:caller@[local_ip]:[local_port]>"
        ruri_host = "[remote_ip]:[remote_port]"
    else:
        via = "SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK-%s" % callid
        tag = "vc1"
        contact = "<sip:caller@127.0.0.2:5060>"
        ruri_host = "127.0.0.1:5060"
    lines = ["INVITE sip:%s%s@%s;user=phone SIP/2.0" % (plus, dest, ruri_host), "Via: " + via]
    if case.get("anonymous"):
        lines.append('From: "Anonymous" <sip:anonymous@anonymous.invalid>;tag=' + tag)
    else:
        lines.append("From: <sip:%s%s%s@127.0.0.1;user=phone>;tag=%s" % (plus, orig, vs, tag))
    lines += ["To: <sip:%s%s@127.0.0.1;user=phone>" % (plus, dest),
              "Call-ID: " + callid, "CSeq: 1 INVITE", "Contact: " + contact,
              "Max-Forwards: 70"]
    if not case.get("anonymous"):
        lines.append("P-Asserted-Identity: <tel:%s%s%s>" % (plus, orig, vs))
    if date is not None:
        lines.append("Date: " + date)
    for i in ident:
        lines.append("Identity: " + i)
    lines.append("Content-Length: 0")
    return lines


def scenario(name, invite, want_status, cause, verstat, timeout_ms=None):
    """A sipp UAC: the INVITE, then either 200 (X-Verstat checked, ACK, BYE/200) or
    want_status (Reason cause checked, ACK)."""
    body = "\n".join("      " + l for l in invite)
    out = ['<?xml version="1.0" encoding="ISO-8859-1" ?>',
           '<!DOCTYPE scenario SYSTEM "sipp.dtd">',
           '<!-- written by tests/integration/verify_cases.py -->',
           '<scenario name="%s">' % name,
           '  <send retrans="500">\n    <![CDATA[\n\n%s\n\n    ]]>\n  </send>' % body,
           '  <recv response="100" optional="true"/>',
           '  <recv response="180" optional="true"/>']
    tmo = ' timeout="%d"' % timeout_ms if timeout_ms else ""
    if want_status == 200:
        v = verstat or ""
        out.append('  <recv response="200" rtd="true" rrs="true"%s>\n    <action>\n'
                   '      <ereg regexp="^ *pai=%s;from=%s *$" search_in="hdr" header="X-Verstat:"'
                   ' check_it="true" assign_to="seen"/>\n    </action>\n  </recv>' % (tmo, v, v))
        for method, cseq, retrans in (("ACK", 1, ""), ("BYE", 2, ' retrans="500"')):
            out.append('  <send%s>\n    <![CDATA[\n\n'
                       '      %s [next_url] SIP/2.0\n'
                       '      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n'
                       '      [last_From:]\n      [last_To:]\n      [last_Call-ID:]\n'
                       '      CSeq: %d %s\n      [routes]\n      Max-Forwards: 70\n'
                       '      Content-Length: 0\n\n'
                       '    ]]>\n  </send>' % (retrans, method, cseq, method))
        out.append('  <recv response="200" crlf="true"/>')
    else:
        out.append('  <recv response="%d"%s>\n    <action>\n'
                   '      <ereg regexp="^ *STIR;cause=%d;text=&quot;" search_in="hdr"'
                   ' header="Reason:" check_it="true" assign_to="why"/>\n'
                   '    </action>\n  </recv>' % (want_status, tmo, cause))
        out.append('  <send>\n    <![CDATA[\n\n'
                   '      ACK %s SIP/2.0\n      [last_Via:]\n      [last_From:]\n'
                   '      [last_To:]\n      [last_Call-ID:]\n      CSeq: 1 ACK\n'
                   '      Max-Forwards: 70\n      Content-Length: 0\n\n    ]]>\n  </send>'
                   % invite[0].split()[1])
    # sipp refuses a scenario with an assigned variable that nothing reads.
    out.append('  <Reference variables="%s"/>' % ("seen" if want_status == 200 else "why"))
    out.append("</scenario>")
    return "\n".join(out) + "\n"


UAS = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<!-- written by tests/integration/verify_cases.py: the PBX side of verify_sipp.sh. It
     answers every INVITE with 200 and echoes the verstat parameters it found in
     P-Asserted-Identity and From ("" when none) as X-Verstat: pai=V;from=V. -->
<scenario name="verstat echo uas">
  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp="verstat=([A-Za-z-]+)" search_in="hdr" header="P-Asserted-Identity:"
            assign_to="pai_all,pai"/>
      <ereg regexp="verstat=([A-Za-z-]+)" search_in="hdr" header="From:"
            assign_to="from_all,from"/>
    </action>
  </recv>
  <send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]uas[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:pbx@[local_ip]:[local_port]>
      X-Verstat: pai=[$pai];from=[$from]
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
  <recv request="BYE"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <Reference variables="pai_all,from_all"/>
</scenario>
"""


# --- capturing what a signer adds ---------------------------------------------------------
def capture_identity(send_to, src, sink, orig, dest, plus, timeout=5.0):
    """Sends an unsigned INVITE from src (ip) to send_to (ip, port); the signer forwards
    it to sink (ip, port), where it is caught. Returns the Identity value it carries."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(sink)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.bind((src, 0))
    p = "+" if plus else ""
    cid = "cap-%d-%d" % (os.getpid(), time.monotonic_ns())
    port = tx.getsockname()[1]
    msg = ("INVITE sip:%s%s@%s:%d;user=phone SIP/2.0\r\n"
           "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-%s\r\n"
           "From: <sip:%s%s@127.0.0.1;user=phone>;tag=cap1\r\n"
           "To: <sip:%s%s@127.0.0.1;user=phone>\r\n"
           "Call-ID: %s\r\nCSeq: 1 INVITE\r\nContact: <sip:cap@%s:%d>\r\n"
           "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
           % (p, dest, send_to[0], send_to[1], src, port, cid, p, orig, p, dest, cid, src, port))
    rx.settimeout(0.5)
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            tx.sendto(msg.encode(), send_to)
            try:
                data, _ = rx.recvfrom(65535)
            except socket.timeout:
                continue
            text = data.decode("utf-8", "replace")
            if cid not in text:
                continue
            m = re.search(r"^(?:Identity|y)[ \t]*:[ \t]*(.+?)\r?$", text, re.M | re.I)
            return m.group(1).strip() if m else None
        return None
    finally:
        rx.close()
        tx.close()


# --- the run ------------------------------------------------------------------------------
def make_identities(env, case, captured):
    """The Identity values of the case (a list), or raises RuntimeError."""
    signer = case.get("signer", "stirwire")
    key, x5u = cert_of(env, case)
    if signer == "none":
        return []
    if signer == "div":
        return [div_token(env, key, x5u, ORIG, DEST, "12025550177")]
    if signer in ("sign-filter", "kamailio"):
        if captured.get(signer) is None:
            raise RuntimeError("no Identity captured from the %s" % signer)
        ident = captured[signer]
    elif signer == "secsipidx":
        r = subprocess.run(["secsipidx", "-sign-full", "-orig-tn", ORIG, "-dest-tn", DEST,
                            "-attest", "A", "-x5u", x5u, "-k", key],
                           capture_output=True, text=True)
        if r.returncode != 0 or not r.stdout.strip():
            raise RuntimeError("secsipidx -sign-full: exit %d: %s" % (r.returncode, r.stderr))
        ident = r.stdout.strip()
    else:
        iat = time.time() + case["iat"] if "iat" in case else None
        ident = sw_sign(env, key, x5u, ORIG, DEST, iat)
    m = case.get("mutate")
    if m == "flip-sig":
        ident = flip_sig(ident)
    elif m == "info-other":
        # Same signed token; info names another (good) certificate URL.
        ident = re.sub(r";info=<[^>]*>", ";info=<%s/sp.pem>" % env.base, ident)
    return [ident]


def run_sipp(env, tag, scen_text, src, target, trace=True, extra=()):
    """Starts one sipp UAC with the scenario text; returns (process, base of its files).
    Its Call-ID is vc-TAG-..., which the mock reads (sipp matches a call by its whole
    Call-ID, so the prefix goes in -cid_str, not into the scenario)."""
    base = os.path.join(env.work, "runs", tag)
    with open(base + ".xml", "w") as f:
        f.write(scen_text)
    cmd = ["sipp", "-sf", base + ".xml", "-i", src, "-p", str(env.uac_port), target,
           "-cid_str", "vc-%s-%%u-%%p@%%s" % tag,
           "-m", "1", "-nostdin", "-timeout", "6s", "-timeout_error",
           "-trace_err", "-error_file", base + ".err"]
    if trace:
        cmd += ["-trace_msg", "-message_file", base + ".msg"]
    cmd += list(extra)
    return subprocess.Popen(cmd, stdout=open(base + ".out", "w"), stderr=subprocess.STDOUT), base


def sipp_detail(base):
    """What went wrong, from sipp's files: the error lines and the last response seen."""
    parts = []
    try:
        with open(base + ".err", errors="replace") as f:
            errs = [l.strip() for l in f if l.strip() and not l.startswith("sipp:")]
        parts.append(" | ".join(errs[-3:])[:400])
    except OSError:
        pass
    try:
        with open(base + ".msg", errors="replace") as f:
            text = f.read()
        got = re.findall(r"^(SIP/2\.0 \d{3}[^\r\n]*)", text, re.M)
        hdrs = re.findall(r"^((?:X-Verstat|Reason):[^\r\n]*)", text, re.M)
        if got:
            parts.append("received: " + ", ".join(dict.fromkeys(got)))
        if hdrs:
            parts.append("; ".join(dict.fromkeys(hdrs)))
    except OSError:
        pass
    return " ".join(p for p in parts if p) or "(no sipp output; see %s.*)" % base


def describe(status, cause, verstat):
    if status != 200:
        return "%d, Reason STIR;cause=%d" % (status, cause)
    return "200, verstat %s" % (verstat or "none")


def cli_check(env, case, lines, inst):
    """`stirwire check --sip FILE --json` on the request; one check line."""
    err = case["err"]
    path = os.path.join(env.work, "runs", case["name"] + ".sip")
    with open(path, "w", newline="") as f:
        f.write("\r\n".join(lines) + "\r\n\r\n")
    args = [env.stirwire, "check", "--sip", path, "--json",
            "--ca-file", os.path.join(env.pki, "root.pem"), "--tls-ca", env.tls_ca,
            "--allow-any-port"]
    if case.get("cert") == "private" and not env.cli_allow_network:
        # --allow-private would let the tool connect to 10.255.255.1; without it,
        # 127.0.0.1 is refused too, and the private address is refused all the same.
        pass
    elif env.cli_allow_network:
        args += ["--allow-network", "127.0.0.0/8"]
    else:
        args += ["--allow-private"]
    args += env.instances[inst]["cli"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=30)
    what = "%s: stirwire check --sip --json" % case["name"]
    try:
        d = json.loads(r.stdout)
    except ValueError:
        say(False, "%s: exit %d, no JSON: %s %s" % (what, r.returncode, r.stdout[:300],
                                                   r.stderr[:300]))
        return
    _, status, verstat = ERRS[err]
    bad = []
    if bool(d.get("valid")) != (err == "OK"):
        bad.append("valid %s" % d.get("valid"))
    if err == "OK":
        if d.get("error") not in (None, "OK"):
            bad.append("error %s" % d.get("error"))
    else:
        if d.get("error") != err:
            bad.append("error %s, want %s" % (d.get("error"), err))
        if d.get("sip_status") != status:
            bad.append("sip_status %s, want %d" % (d.get("sip_status"), status))
        if "STIR;cause=%d;" % status not in (d.get("reason_header") or ""):
            bad.append("reason_header %r, want STIR;cause=%d" % (d.get("reason_header"), status))
    if d.get("verstat") != verstat:
        bad.append("verstat %s, want %s" % (d.get("verstat"), verstat))
    if bad:
        say(False, "%s: %s (exit %d; %s)" % (what, "; ".join(bad), r.returncode,
                                             json.dumps(d)[:300]))
    else:
        say(True, "%s: %s%s, verstat %s (exit %d)" % (
            what, err, "" if err == "OK" else " %d" % status, verstat, r.returncode))


def cmd_run(env):
    os.makedirs(os.path.join(env.work, "runs"), exist_ok=True)
    captured = {}
    # The signers' tokens first (stirwired's sign filter and Kamailio forward the INVITE
    # to a sink here), so that they are fresh when used.
    for name, sig in env.signers.items():
        if not sig:
            continue
        plus = name != "kamailio"
        ident = capture_identity(tuple(sig["send_to"]), sig["src"], tuple(sig["sink"]),
                                 ORIG, DEST, plus)
        captured[name] = ident
        say(ident is not None, "%s: captured the Identity it adds%s" % (
            name, "" if ident else " (none arrived at the sink within 5 s)"))
    for case in CASES:
        signer = case.get("signer", "stirwire")
        if signer == "secsipidx" and not env.have_secsipidx:
            skip("%s: secsipidx is not installed" % case["name"])
            continue
        if signer in ("sign-filter", "kamailio") and not env.signers.get(signer):
            skip("%s: the %s is not running (not installed)" % (case["name"], signer))
            continue
        try:
            ident = make_identities(env, case, captured)
        except (RuntimeError, subprocess.CalledProcessError) as e:
            say(False, "%s: could not make the token: %s" % (case["name"], e))
            continue
        date = None
        if case.get("date") == "fresh":
            date = http_date(time.time())
        elif case.get("date") == "stale":
            date = http_date(time.time() - 600)
        inst = case.get("instance", "main")
        target = "127.0.0.1:%d" % env.instances[inst]["port"]
        procs = []
        for trunk in case.get("trunks", CASE_TRUNKS):
            want = outcome(case["err"], trunk)
            if case.get("anonymous") and want[0] == 200:
                # No header carries a telephone number: there is nowhere to put a verstat.
                want = (200, None, None)
            scen = scenario("%s on trunk %s: want %s" % (case["name"], trunk, describe(*want)),
                            invite_lines(case, ident, True, "[call_id]", date), *want)
            p, base = run_sipp(env, "%s-%s-%s" % (inst, case["name"], trunk), scen,
                               TRUNKS[trunk]["src"], target)
            procs.append((trunk, want, p, base))
        # The tool meanwhile, on the same request.
        lines = invite_lines(case, ident, False, "vc-%s-cli@127.0.0.2" % case["name"], date)
        if env.cli_sip:
            cli_check(env, case, lines, inst)
        else:
            with open(os.path.join(env.work, "runs", case["name"] + ".sip"), "w",
                      newline="") as f:
                f.write("\r\n".join(lines) + "\r\n\r\n")
        for trunk, want, p, base in procs:
            rc = p.wait()
            what = "%s via %s (%s, %s)" % (case["name"], inst, trunk, TRUNKS[trunk]["policy"])
            if rc == 0:
                say(True, "%s: %s (sipp exit 0)" % (what, describe(*want)))
            else:
                say(False, "%s: want %s; sipp exit %d: %s" % (what, describe(*want), rc,
                                                              sipp_detail(base)))
    # Live chains: a caller's unsigned INVITE through a signer into the verifier.
    for name, sig in env.signers.items():
        if not sig:
            continue
        case = dict(name="chain-" + name, err="OK", plus=name != "kamailio")
        want = outcome("OK", "chain")
        scen = scenario("through the %s into the verifier" % name,
                        invite_lines(case, [], True, "[call_id]"), *want)
        p, base = run_sipp(env, "chain-" + name, scen, sig["chain_src"],
                           "%s:%d" % tuple(sig["send_to"]))
        rc = p.wait()
        what = "live call through the %s, then the verifier (trunk chain, policy reject)" % name
        if rc == 0:
            say(True, "%s: %s (sipp exit 0)" % (what, describe(*want)))
        else:
            say(False, "%s: want %s; sipp exit %d: %s" % (what, describe(*want), rc,
                                                          sipp_detail(base)))


# --- verify_slow.sh -----------------------------------------------------------------------
def cmd_load_scenario(env, out, ident_file):
    with open(ident_file) as f:
        ident = f.read().strip()
    case = dict(name="load", err="OK")
    scen = scenario("cached-certificate load", invite_lines(case, [ident], True, "[call_id]"),
                    200, None, "TN-Validation-Passed", timeout_ms=1000)
    with open(out, "w") as f:
        f.write(scen)


def cmd_slow(env, ident_file, proxy, src, sink, resend, wait):
    """The parked call: INVITE (slow x5u) to the proxy, the same bytes again every
    `resend` seconds while no final response came; a sink answers what the proxy
    forwards. Checks: 200 after the slow fetch, the sink saw one INVITE, verstat Passed."""
    with open(ident_file) as f:
        ident = f.read().strip()
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(sink)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.bind((src, 0))
    port = tx.getsockname()[1]
    cid = "slow-%d@%s" % (os.getpid(), src)
    case = dict(name="slow", err="OK")
    lines = invite_lines(case, [ident], False, cid)
    lines[0] = "INVITE sip:+%s@%s:%d;user=phone SIP/2.0" % (DEST, proxy[0], proxy[1])
    lines[1] = "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-slow-%d" % (src, port, os.getpid())
    msg = ("\r\n".join(lines) + "\r\n\r\n").encode()
    seen = []

    def sink_loop():
        rx.settimeout(0.2)
        end = time.monotonic() + wait + 2
        while time.monotonic() < end:
            try:
                data, peer = rx.recvfrom(65535)
            except socket.timeout:
                continue
            text = data.decode("utf-8", "replace")
            if not text.startswith("INVITE ") or cid not in text:
                continue
            seen.append((time.monotonic(), text))
            # 200 back to the proxy (it is the top Via), echoing the verstat seen.
            heads = text.split("\r\n\r\n", 1)[0].split("\r\n")
            keep = [h for h in heads[1:] if re.match(r"(?i)(via|from|to|call-id|cseq)\s*:", h)]
            pai = re.search(r"(?im)^P-Asserted-Identity:.*?verstat=([A-Za-z-]+)", text)
            resp = ["SIP/2.0 200 OK"] + [h + (";tag=sink" if re.match(r"(?i)to\s*:", h) else "")
                                         for h in keep]
            resp += ["Contact: <sip:sink@%s:%d>" % sink,
                     "X-Verstat: pai=%s" % (pai.group(1) if pai else ""), "Content-Length: 0"]
            rx.sendto(("\r\n".join(resp) + "\r\n\r\n").encode(), peer)

    th = threading.Thread(target=sink_loop, daemon=True)
    th.start()
    t0 = time.monotonic()
    tx.settimeout(0.05)
    sent = 0
    final = None
    next_send = t0
    while time.monotonic() - t0 < wait:
        now = time.monotonic()
        if final is None and now >= next_send and sent < 1 + resend[1]:
            tx.sendto(msg, proxy)
            sent += 1
            next_send = now + resend[0]
        try:
            data, _ = tx.recvfrom(65535)
        except socket.timeout:
            continue
        text = data.decode("utf-8", "replace")
        m = re.match(r"SIP/2\.0 (\d{3})", text)
        if m and int(m.group(1)) >= 200 and cid in text:
            final = (time.monotonic() - t0, int(m.group(1)), text)
            break
    th.join()
    what = "parked call (x5u served after the delay), INVITE sent %d times" % sent
    if final is None:
        say(False, "%s: no final response within %.0f s (sink saw %d INVITEs)" % (
            what, wait, len(seen)))
        return
    dt, status, text = final
    say(status == 200, "%s: %d after %.1f s" % (what, status, dt))
    say(dt >= 3.5, "parked call: answered when the slow fetch ended (%.1f s, fetch delay ~5 s)"
        % dt)
    echo = re.search(r"(?im)^X-Verstat:\s*(.*?)\s*$", text)
    got = echo.group(1) if echo else "(no X-Verstat)"
    say(got == "pai=TN-Validation-Passed",
        "parked call: the PBX saw P-Asserted-Identity verstat %s" % got.replace("pai=", ""))
    say(len(seen) == 1, "parked call: retransmitted while parked, forwarded %d time(s) (want 1)"
        % len(seen))
    # ACK for the 200 (through the proxy, as a caller would).
    to = re.search(r"(?im)^To:.*$", text)
    ack = [lines[0].replace("INVITE", "ACK", 1),
           "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-slowack-%d" % (src, port, os.getpid()),
           lines[2], to.group(0) if to else lines[3], "Call-ID: " + cid, "CSeq: 1 ACK",
           "Max-Forwards: 70", "Content-Length: 0"]
    tx.sendto(("\r\n".join(ack) + "\r\n\r\n").encode(), proxy)


# --- the mock verifier (a self-test of this harness) ---------------------------------------
def cmd_mock(env, port, inst):
    """Plays stirwired's verify+verstat for the case table: the verdict comes from the
    Call-ID (vc-CASE-TRUNK-...), not from any verification. Stateless: requests go to
    the UAS with a Via of ours, responses back to the next Via."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    uas = (env.uas_ip, env.uas_port)
    errs = {c["name"]: c["err"] for c in CASES}
    errs.update({"chain-sign-filter": "OK", "chain-kamailio": "OK"})
    src_trunk = {t["src"]: n for n, t in TRUNKS.items()}
    n = 0
    while True:
        data, peer = s.recvfrom(65535)
        text = data.decode("utf-8", "replace")
        head, _, body = text.partition("\r\n\r\n")
        lines = head.split("\r\n")
        if lines[0].startswith("SIP/2.0"):
            # Vias may come one a line or comma-separated (sipp's [last_Via:]).
            vias = [v.strip() for l in lines if re.match(r"(?i)via\s*:", l)
                    for v in l.split(":", 1)[1].split(",")]
            if len(vias) < 2:
                continue
            nxt = re.search(r"SIP/2\.0/UDP ([0-9.]+):(\d+)", vias[1])
            lines = [l for l in lines if not re.match(r"(?i)via\s*:", l)]
            lines.insert(1, "Via: " + ", ".join(vias[1:]))
            s.sendto(("\r\n".join(lines) + "\r\n\r\n" + body).encode(),
                     (nxt.group(1), int(nxt.group(2))))
            continue
        n += 1
        if lines[0].startswith("INVITE "):
            cid = re.search(r"(?im)^Call-ID:\s*vc-(?:main|crlfile)-(.+?)-(reject|tag|pass|strict)-", head)
            chain = re.search(r"(?im)^Call-ID:\s*vc-(chain-[a-z-]+?)-\d", head)
            if cid:
                name, trunk = cid.group(1), cid.group(2)
            elif chain:
                name, trunk = chain.group(1), "chain"
            else:
                name, trunk = None, src_trunk.get(peer[0], "tag")
            err = errs.get(name, "OK")
            status, cause, verstat = outcome(err, trunk)
            if status != 200:
                keep = [l for l in lines[1:] if re.match(r"(?i)(via|from|to|call-id|cseq)\s*:", l)]
                keep = [l + (";tag=mock" if re.match(r"(?i)to\s*:", l) else "") for l in keep]
                resp = ["SIP/2.0 %d Mock" % status] + keep + [
                    'Reason: STIR;cause=%d;text="mock"' % cause, "Content-Length: 0"]
                s.sendto(("\r\n".join(resp) + "\r\n\r\n").encode(), peer)
                continue
            if verstat:
                lines = [re.sub(r"(<tel:\+?\d+|<sip:\+?\d+)", r"\1;verstat=" + verstat, l)
                         if re.match(r"(?i)(from|p-asserted-identity)\s*:", l) else l
                         for l in lines]
        lines.insert(1, "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-mock%d" % (port, n))
        s.sendto(("\r\n".join(lines) + "\r\n\r\n" + body).encode(), uas)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--env", required=True, help="the JSON the shell script wrote")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("uas-scenario")
    p.add_argument("out")
    sub.add_parser("run")
    p = sub.add_parser("load-scenario")
    p.add_argument("out")
    p.add_argument("--identity-file", required=True)
    p = sub.add_parser("slow")
    p.add_argument("--identity-file", required=True)
    p.add_argument("--proxy", required=True, help="IP:PORT")
    p.add_argument("--src", required=True)
    p.add_argument("--sink", required=True, help="IP:PORT")
    p.add_argument("--resend", default="1.0,2", help="SECONDS,TIMES")
    p.add_argument("--wait", type=float, default=12.0)
    p = sub.add_parser("conf")
    p.add_argument("out")
    p.add_argument("--instance", default="main")
    p = sub.add_parser("mock")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--instance", default="main")
    args = ap.parse_args()
    env = Env(args.env)

    def addr(s):
        h, p = s.rsplit(":", 1)
        return (h, int(p))

    if args.cmd == "uas-scenario":
        with open(args.out, "w") as f:
            f.write(UAS)
    elif args.cmd == "run":
        cmd_run(env)
    elif args.cmd == "load-scenario":
        cmd_load_scenario(env, args.out, args.identity_file)
    elif args.cmd == "slow":
        every, times = args.resend.split(",")
        cmd_slow(env, args.identity_file, addr(args.proxy), args.src, addr(args.sink),
                 (float(every), int(times)), args.wait)
    elif args.cmd == "conf":
        cmd_conf(env, args.instance, args.out)
    elif args.cmd == "mock":
        cmd_mock(env, args.port, args.instance)
    return 0


if __name__ == "__main__":
    sys.exit(main())
