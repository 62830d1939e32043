#!/usr/bin/env bash
# html_check.sh - checks an HTML report (tap_report_html(), src/tap/report.c) the way a
# reader's browser sees it: headless Chromium renders it, and
#  1. the screenshot (OUT.png, 1280x2000) exists and is not blank: its pixels, decoded
#     here with zlib alone (no PIL), have more than MIN_COLOURS distinct colours;
#  2. the DOM Chromium builds (--dump-dom) holds each TEXT given, in its text content
#     (entities decoded, white space collapsed) or in its serialized markup;
#  3. no request leaves the page: Chromium runs behind a proxy that is a listener here
#     counting connections, with every host name resolving to nothing, and the listener
#     must see 0 connections (an <img src="http://..."> that CSP did not stop is one);
#  4. the file itself has no external reference a browser could follow: no src="http,
#     href="http, url(, @import, case-insensitive (HTML_CHECK_NO_STATIC=1 leaves this
#     check out, to prove check 3 on its own), and carries the CSP meta tag.
# Not a test by itself: the TAP's tests call it.
#
# Usage: html_check.sh REPORT.html OUT.png [TEXT...]
# Exit: 0 all checks passed; 1 a check failed (each failure says why on stderr);
# 77 chromium or python3 is not installed (the caller may skip); 2 usage.
# Environment: CHROMIUM (default /usr/lib/chromium/chromium, else chromium), MIN_COLOURS (default 16), KEEP=1 keeps the
# working directory (Chromium's logs, the DOM dump).
set -u

if [ $# -lt 2 ]; then
    echo "usage: $0 REPORT.html OUT.png [TEXT...]" >&2
    exit 2
fi
html="$1"
png="$2"
shift 2
# The binary itself rather than Debian's /usr/bin/chromium wrapper, whose defaults
# (/etc/chromium.d: remote extension updates, API keys) make the browser talk to Google
# on its own, which check 3 would count.
if [ -n "${CHROMIUM:-}" ]; then
    chrome="$CHROMIUM"
elif [ -x /usr/lib/chromium/chromium ]; then
    chrome=/usr/lib/chromium/chromium
else
    chrome=chromium
fi
min_colours="${MIN_COLOURS:-16}"

for tool in "$chrome" python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool is not installed" >&2
        exit 77
    fi
done
if [ ! -r "$html" ]; then
    echo "html_check: $html: not readable" >&2
    exit 1
fi
html="$(cd "$(dirname "$html")" && pwd)/$(basename "$html")"
case "$png" in /*) ;; *) png="$(pwd)/$png" ;; esac

work="$(mktemp -d /tmp/html_check.XXXXXX)"
listener_pid=""
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    if [ -n "$listener_pid" ]; then
        kill "$listener_pid" 2>/dev/null
        wait "$listener_pid" 2>/dev/null
    fi
    if [ "${KEEP:-}" = 1 ]; then
        echo "html_check: kept $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

failures=0
fail() {
    echo "html_check: FAIL: $*" >&2
    failures=$((failures + 1))
}

# --- the listener: counts connections, answers nothing (a proxy that never proxies) -------
# Chromium talks to its own services even headless with every background flag off (in
# 156: the Optimization Guide models manifest, an on-demand component that
# --disable-component-update does not stop, and accounts.google.com): connections whose
# target is one of BROWSER_HOSTS are the browser's, logged and not counted. Any other
# target, whatever its scheme, counts. The page cannot hide behind that list: check 4
# finds every absolute src/href/url( in the file, and the CSP forbids them all anyway.
python3 - "$work/port" "$work/connections" >"$work/listener.log" 2>&1 <<'EOF' &
import os, re, socket, sys
BROWSER_HOSTS = ("update.googleapis.com", "redirector.gvt1.com", "accounts.google.com",
                 "clients2.google.com", "clientservices.googleapis.com",
                 "optimizationguide-pa.googleapis.com", "content-autofill.googleapis.com",
                 "safebrowsingohttpgateway.googleapis.com", "safebrowsing.googleapis.com")
port_file, count_file = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(64)
with open(count_file, "w") as f:
    f.write("0\n")
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(port_file + ".tmp", port_file)
n = 0
while True:
    c, addr = s.accept()
    try:
        c.settimeout(0.5)
        first = c.recv(300)
    except OSError:
        first = b""
    c.close()
    line = first.split(b"\r\n", 1)[0].decode("latin-1")
    m = re.match(r"CONNECT \[?([^\]\s]+?)\]?:\d+ ", line) or \
        re.match(r"[A-Z]+ [a-zA-Z][a-zA-Z0-9+.-]*://\[?([^/\]:\s]+)", line)
    host = m.group(1).lower() if m else ""
    own = host in BROWSER_HOSTS or host.endswith(".gvt1.com")
    if not own:
        n += 1
        with open(count_file, "w") as f:
            f.write("%d\n" % n)
    with open(count_file + ".log", "a") as f:
        f.write("%s %s\n" % ("browser" if own else "PAGE", line[:200]))
EOF
listener_pid=$!
for _ in $(seq 50); do
    [ -s "$work/port" ] && break
    sleep 0.1
done
if [ ! -s "$work/port" ]; then
    echo "html_check: the counting listener did not start: $(cat "$work/listener.log")" >&2
    exit 1
fi
port="$(cat "$work/port")"

# Chromium, quiet: no background traffic of its own (updates, safe browsing, metrics), a
# fresh profile, every request through the counting proxy (loopback too), every name
# resolving to nothing.
run_chrome() {
    timeout 90 "$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --user-data-dir="$work/profile" --no-first-run --no-default-browser-check \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-default-apps --disable-extensions --disable-domain-reliability \
        --disable-client-side-phishing-detection --disable-breakpad \
        --disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions \
        --metrics-recording-only --no-pings --safebrowsing-disable-auto-update \
        --proxy-server="http://127.0.0.1:$port" --proxy-bypass-list="<-loopback>" \
        --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" \
        --enable-logging=stderr --v=0 \
        "$@" "file://$html"
}

# --- 1. the screenshot ------------------------------------------------------------------------
rm -f "$png"
if ! run_chrome --screenshot="$png" --window-size=1280,2000 >"$work/shot.out" 2>"$work/shot.err"; then
    fail "chromium --screenshot failed: $(tail -5 "$work/shot.err")"
fi
if [ ! -s "$png" ]; then
    fail "no screenshot at $png"
else
    colours="$(python3 - "$png" <<'EOF' 2>&1
import struct, sys, zlib

# Reads a PNG (8-bit RGB or RGBA, not interlaced, as Chromium writes them) and prints the
# number of distinct colours in its first 1200 rows (enough to tell a page from a blank).
data = open(sys.argv[1], "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    print("not a PNG")
    sys.exit(1)
pos, idat, hdr = 8, [], None
while pos + 8 <= len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        hdr = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat.append(body)
    elif kind == b"IEND":
        break
    pos += 12 + length
width, height, depth, ctype, _, _, interlace = hdr
if depth != 8 or ctype not in (2, 6) or interlace != 0:
    print("unsupported PNG: depth %d colour type %d interlace %d" % (depth, ctype, interlace))
    sys.exit(1)
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(b"".join(idat))
stride = width * bpp
prev = bytearray(stride)
colours = set()
for y in range(min(height, 1200)):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    if f == 1:
        for i in range(bpp, stride):
            line[i] = (line[i] + line[i - bpp]) & 255
    elif f == 2:
        line = bytearray((a + b) & 255 for a, b in zip(line, prev))
    elif f == 3:
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
    elif f == 4:
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            line[i] = (line[i] + pred) & 255
    colours.update(bytes(line[i:i + 3]) for i in range(0, stride, bpp))
    prev = line
print(len(colours))
EOF
)"
    case "$colours" in
    '' | *[!0-9]*) fail "screenshot $png does not decode: $colours" ;;
    *)
        if [ "$colours" -le "$min_colours" ]; then
            fail "screenshot $png looks blank: $colours distinct colours (want > $min_colours)"
        fi
        ;;
    esac
fi

# --- 2. the DOM holds each text -----------------------------------------------------------
if ! run_chrome --dump-dom --virtual-time-budget=3000 >"$work/dom.html" 2>"$work/dom.err"; then
    fail "chromium --dump-dom failed: $(tail -5 "$work/dom.err")"
fi
if [ ! -s "$work/dom.html" ]; then
    fail "chromium dumped no DOM"
elif [ $# -gt 0 ]; then
    missing="$(python3 - "$work/dom.html" "$@" <<'EOF'
import html.parser, re, sys

class Text(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []
    def handle_data(self, d):
        self.parts.append(d)

dom = open(sys.argv[1], encoding="utf-8", errors="replace").read()
p = Text()
p.feed(dom)
norm = lambda s: re.sub(r"\s+", " ", s).strip()
text = norm(" ".join(p.parts))
flat = norm("".join(p.parts))
for want in sys.argv[2:]:
    w = norm(want)
    if w not in text and w not in flat and want not in dom:
        print(want)
EOF
)"
    if [ -n "$missing" ]; then
        while IFS= read -r m; do
            fail "the DOM does not contain: $m"
        done <<<"$missing"
    fi
fi

# --- 3. nothing left the page ---------------------------------------------------------------
sleep 0.5
connections="$(cat "$work/connections" 2>/dev/null || echo '?')"
if [ "$connections" != 0 ]; then
    fail "the page made $connections connection(s) through the proxy: $(grep '^PAGE' "$work/connections.log" 2>/dev/null | head -3 | tr '\n' ' ')"
fi

# --- 4. no external reference in the file -------------------------------------------------
if [ "${HTML_CHECK_NO_STATIC:-}" != 1 ]; then
    for pat in 'src="http' "src='http" 'href="http' "href='http" 'url(' '@import' 'src=http' 'href=http'; do
        if grep -qiF -- "$pat" "$html"; then
            fail "the file contains $pat: $(grep -oiF -m1 -- "$pat" "$html" | head -1)"
        fi
    done
    if ! grep -qF "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';" "$html"; then
        fail "the file has no Content-Security-Policy meta tag with default-src 'none'"
    fi
fi

if [ "$failures" -gt 0 ]; then
    echo "html_check: $html: $failures check(s) failed" >&2
    exit 1
fi
echo "html_check: $html: ok ($colours colours, 0 connections${1:+, $# texts found})"
exit 0
