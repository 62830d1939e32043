#!/usr/bin/env bash
# http_secsipidx.sh - secsipidx's documented HTTP calls work unchanged against stirwire's
# REST API, and give the same success answers as `secsipidx -http-srv` itself:
#
#   curl --data @identity.txt http://127.0.0.1:PORT/v1/check
#   curl --data '493044442222,493088886666,A,,https://127.0.0.1:8090/v1/pub/cert.pem' \
#       http://127.0.0.1:PORT/v1/sign-csv
#
# One function (calls) makes the same requests, byte for byte, to each server:
#   sx   secsipidx -http-srv (-fprvkey, -fpubkey, -http-dir, -expire 3600)
#   sw   stirwire serve (--key, --x5u, --check-key, --pub-dir, --max-age 3600)
#   swd  stirwired with an `http = { ... }` group (config written below)
# all three with the same P-256 key (made by openssl, so no tool hides a key-format quirk)
# and the same pub directory, whose cert.pem is the public key (what secsipidx's -fpubkey
# reads and what the anchor ../shared/anchors/secsipidx-http.sh serves). The sign-csv body
# is the documented one, literally (its x5u is only a string here: both verify with the
# key).
#
# Compared with secsipidx's answers (sx is the reference):
#   /v1/check, a secsipidx-signed and a stirwire-signed identity: status line,
#     Content-Type and body byte for byte ("HTTP/1.1 200 OK", "text/plain; charset=utf-8",
#     "OK\n").
#   /v1/sign-csv: status line and Content-Type byte for byte; the body is "<identity>\n"
#     (exactly one trailing newline) and, the token being fresh, equal in structure:
#     `stirwire decode` of both gives the same form, JOSE header, header parameters and
#     claims except iat
#     (within 60 s of now in both) and origid (a UUID in both), and the same parameters
#     after the token (;info=<...>;alg=ES256;ppt=shaken); each server's /v1/check accepts
#     the other's token, and secsipidx -check and stirwire check --key accept both.
#   /v1/pub/cert.pem: 200 and the same bytes (the Content-Type differs on purpose:
#     secsipidx sends Go's application/x-x509-ca-cert, stirwire application/x-pem-file).
# Failures are not compared (secsipidx answers 500 FAILED to everything; stirwire a 4xx
# JSON), only that both refuse a tampered token.
#
# Exit 0 when all checks pass, 1 when any fails, 77 (skip) only when curl, secsipidx or
# python3 is missing. Loopback only. KEEP=1 keeps the directory.
# Environment: STIRWIRE, STIRWIRED, SRCDIR, BUILDDIR (make check sets them).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=http_lib.sh
. "$(dirname "$0")/http_lib.sh"

SKIP_HINT="apt-get install curl secsipidx python3" skip_without curl secsipidx python3
for tool in openssl jq; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "FAIL: $tool is not installed (run tools/deps.sh)"
        exit 1
    }
done
need_built STIRWIRE STIRWIRED
make_workdir http-secsipidx
before_finish() {
    sanitizer_check sw.log swd.log
}

read -r P_SX P_SW P_SWD P_SIP < <(free_ports 4)
[ -n "${P_SIP:-}" ] || {
    nok "could not find free ports"
    finish
}
CSV='493044442222,493088886666,A,,https://127.0.0.1:8090/v1/pub/cert.pem'

# --- keys, the pub directory, the identities for /v1/check -----------------------------------
if openssl ecparam -name prime256v1 -genkey -noout -out key.pem 2>/dev/null &&
    openssl ec -in key.pem -pubout -out pub.pem 2>/dev/null; then
    ok "openssl made a P-256 key pair"
else
    nok "openssl could not make a P-256 key"
    finish
fi
mkdir -p pub && cp pub.pem pub/cert.pem
# identity.txt as secsipidx's README makes it; identity-sw.txt by stirwire sign. Both
# without a trailing newline (curl --data strips newlines anyway).
if secsipidx -sign-full -orig-tn 12025550100 -dest-tn 12025550199 -attest A \
    -x5u "http://127.0.0.1:$P_SX/v1/pub/cert.pem" -k key.pem 2>sx-sign.err |
    tr -d '\n' >identity.txt && [ -s identity.txt ]; then
    ok "secsipidx -sign-full made identity.txt"
else
    nok "secsipidx -sign-full failed: $(cat sx-sign.err)"
    finish
fi
if "$STIRWIRE" sign --orig 12025550100 --dest 12025550199 --attest B \
    --x5u "http://127.0.0.1:$P_SX/v1/pub/cert.pem" --key key.pem 2>sw-sign.err |
    tr -d '\n' >identity-sw.txt && [ -s identity-sw.txt ]; then
    ok "stirwire sign made identity-sw.txt"
else
    nok "stirwire sign failed: $(cat sw-sign.err)"
    finish
fi
# A tampered identity: identity.txt with its payload's attest changed, signature kept.
ident="$(cat identity.txt)"
jwt="${ident%%;*}"
rest="${jwt#*.}"
forged="$(b64url_decode "${rest%%.*}" | jq -c '.attest = "C"' | tr -d '\n' | b64url_encode)"
printf '%s' "${jwt%%.*}.$forged.${jwt##*.}${ident#"$jwt"}" >tampered.txt

# --- the one function that makes the calls ---------------------------------------------------
# calls NAME PORT: secsipidx's documented calls and a few more against 127.0.0.1:PORT; the
# answers are kept as NAME.<call>.hdr/.body for the comparison. The calls themselves are
# what a secsipidx user's scripts run, so they are the same for every server.
calls() {
    local n="$1" u="http://127.0.0.1:$2"
    req "$n.check" --data @identity.txt "$u/v1/check"
    want "$n: curl --data @identity.txt $u/v1/check" 200 '^OK$'
    req "$n.checksw" --data @identity-sw.txt "$u/v1/check"
    want "$n: /v1/check of the stirwire-signed identity" 200 '^OK$'
    req "$n.sign" --data "$CSV" "$u/v1/sign-csv"
    want "$n: curl --data '$CSV' $u/v1/sign-csv" 200 '^eyJ'
    req "$n.pub" "$u/v1/pub/cert.pem"
    want "$n: GET /v1/pub/cert.pem" 200 'BEGIN PUBLIC KEY'
    req "$n.head" -I "$u/v1/pub/cert.pem"
    want "$n: HEAD /v1/pub/cert.pem" 200
    req "$n.tampered" --data @tampered.txt "$u/v1/check"
    if [ "$code" != 200 ] && [ "$code" != 000 ] && [ "$body" != OK ]; then
        ok "$n: the tampered identity is refused (HTTP $code)"
    else
        nok "$n: the tampered identity: HTTP $code, body ${body:0:100}"
    fi
}

# token_of NAME: the sign-csv answer's token (the body without its trailing newline).
token_of() { tr -d '\n' <"$1.sign.body"; }

# decoded FILE: `stirwire decode` of the identity in FILE as one sorted JSON object
# {header, payload} with iat and origid taken out (they differ by design).
decoded() {
    "$STIRWIRE" decode - <"$1" 2>/dev/null |
        jq -cS '{form, header, params, payload: (.payload | del(.iat, .origid))}' 2>/dev/null
}

# compare NAME: NAME's answers against secsipidx's (sx), as the header says.
compare() {
    local n="$1" a b f
    for f in check checksw; do
        a="$(status_line "sx.$f")|$(header "sx.$f" content-type)"
        b="$(status_line "$n.$f")|$(header "$n.$f" content-type)"
        if [ "$a" = "$b" ] && cmp -s "sx.$f.body" "$n.$f.body"; then
            ok "$n = secsipidx: /v1/check ($f) status line, Content-Type, body ($a, $(od -An -c "$n.$f.body" | tr -s ' '))"
        else
            nok "$n != secsipidx: /v1/check ($f): '$b' body '$(od -An -c "$n.$f.body" | tr -s ' ')' vs '$a' body '$(od -An -c "sx.$f.body" | tr -s ' ')'"
        fi
    done

    a="$(status_line sx.sign)|$(header sx.sign content-type)"
    b="$(status_line "$n.sign")|$(header "$n.sign" content-type)"
    if [ "$a" = "$b" ]; then
        ok "$n = secsipidx: /v1/sign-csv status line and Content-Type ($a)"
    else
        nok "$n != secsipidx: /v1/sign-csv '$b' vs '$a'"
    fi
    # exactly one newline, at the end
    if [ "$(tail -c1 "$n.sign.body" | od -An -c | tr -d ' ')" = '\n' ] &&
        [ "$(tr -cd '\n' <"$n.sign.body" | wc -c)" -eq 1 ]; then
        ok "$n: the sign-csv body is one line ending in \\n, as secsipidx's"
    else
        nok "$n: the sign-csv body is not '<identity>\\n': $(od -An -c "$n.sign.body" | tail -2 | tr -s ' ')"
    fi
    token_of sx >sx.token
    token_of "$n" >"$n.token"
    a="$(decoded sx.token)"
    b="$(decoded "$n.token")"
    if [ -n "$a" ] && [ "$a" = "$b" ]; then
        ok "$n = secsipidx: the signed PASSporT's header and claims but iat/origid: $b"
    else
        nok "$n != secsipidx: decoded PASSporT (without iat/origid): '${b:-<none>}' vs '${a:-<none>}'"
    fi
    a="$(sed 's/^[^;]*//' sx.token)"
    b="$(sed 's/^[^;]*//' "$n.token")"
    if [ -n "$a" ] && [ "$a" = "$b" ]; then
        ok "$n = secsipidx: the parameters after the token ($b)"
    else
        nok "$n != secsipidx: parameters '$b' vs '$a'"
    fi
    local now iat oid
    now="$(date +%s)"
    iat="$("$STIRWIRE" decode - <"$n.token" 2>/dev/null | jq -r .payload.iat 2>/dev/null)"
    oid="$("$STIRWIRE" decode - <"$n.token" 2>/dev/null | jq -r .payload.origid 2>/dev/null)"
    if [[ $iat =~ ^[0-9]+$ ]] && [ $((now - iat)) -ge 0 ] && [ $((now - iat)) -le 60 ] &&
        [[ $oid =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]]; then
        ok "$n: iat is now ($iat) and the empty OrigID became a UUID v4 ($oid), as with secsipidx"
    else
        nok "$n: iat '$iat' (now $now) / origid '$oid' not as secsipidx makes them"
    fi
    # each verifies the other's token: the servers, and the CLIs
    req "$n.xsx" --data @"$n.token" "http://127.0.0.1:$P_SX/v1/check"
    want "secsipidx -http-srv /v1/check accepts $n's sign-csv token" 200 '^OK$'
    req "$n.xsw" --data @sx.token "http://127.0.0.1:$2/v1/check"
    want "$n /v1/check accepts secsipidx's sign-csv token" 200 '^OK$'
    if out="$(secsipidx -check -fidentity "$n.token" -fpubkey pub.pem -expire 3600 2>&1)" &&
        [ "$out" = ok ]; then
        ok "secsipidx -check accepts $n's sign-csv token"
    else
        nok "secsipidx -check refuses $n's sign-csv token: $out"
    fi
    if out="$("$STIRWIRE" check --key pub.pem - <"$n.token" 2>&1)"; then
        ok "stirwire check --key accepts $n's sign-csv token"
    else
        nok "stirwire check --key refuses $n's sign-csv token: $out"
    fi
    if cmp -s sx.pub.body "$n.pub.body"; then
        ok "$n = secsipidx: /v1/pub/cert.pem bytes (Content-Type $(header "$n.pub" content-type), secsipidx's $(header sx.pub content-type))"
    else
        nok "$n != secsipidx: /v1/pub/cert.pem bytes differ"
    fi
    # (curl -I reads no body; a HEAD answer that sent one would spoil the next request)
    if [ "$(header "$n.head" content-length)" = "$(header sx.head content-length)" ]; then
        ok "$n = secsipidx: HEAD /v1/pub/cert.pem Content-Length $(header sx.head content-length)"
    else
        nok "$n != secsipidx: HEAD Content-Length '$(header "$n.head" content-length)' vs '$(header sx.head content-length)'"
    fi
}

# --- secsipidx, the reference -----------------------------------------------------------------
if ! start_server sx "$P_SX" secsipidx -http-srv "127.0.0.1:$P_SX" -http-dir pub \
    -fprvkey key.pem -fpubkey pub.pem -expire 3600 -timeout 5; then
    finish
fi
calls sx "$P_SX"
for f in check sign-csv; do
    if [ "$(status_line "sx.${f%-csv}")" = "HTTP/1.1 200 OK" ]; then
        ok "secsipidx /v1/$f answers HTTP/1.1 200 OK, Content-Type $(header "sx.${f%-csv}" content-type)"
    else
        nok "secsipidx /v1/$f: $(status_line "sx.${f%-csv}")"
    fi
done

# --- stirwire serve ---------------------------------------------------------------------------
if start_server sw "$P_SW" "$STIRWIRE" serve --listen "127.0.0.1:$P_SW" --key key.pem \
    --x5u "http://127.0.0.1:$P_SW/v1/pub/cert.pem" --check-key pub.pem --pub-dir pub \
    --max-age 3600; then
    sw_pid=$srv_pid
    calls sw "$P_SW"
    compare sw "$P_SW"
    if stop_server "$sw_pid"; then
        ok "stirwire serve stopped cleanly on SIGTERM"
    else
        nok "stirwire serve did not stop cleanly on SIGTERM"
    fi
fi

# --- stirwired with an http group ------------------------------------------------------------
cat >stirwired.conf <<EOF
# written by tests/integration/http_secsipidx.sh
listen = ( { address = "127.0.0.1"; port = $P_SIP; transport = [ "udp" ]; } );
workers = 1;
log = { level = "info"; };
trunks = (
    { name = "any"; match = { source = [ "127.0.0.1/32" ]; };
      next_hop = "sip:127.0.0.1:9"; filters = [ ]; }
);
http = {
    listen = "127.0.0.1:$P_SWD";
    threads = 2;
    pub_dir = "$work/pub";
    sign = { key = "$work/key.pem"; x5u = "http://127.0.0.1:$P_SWD/v1/pub/cert.pem"; };
    check = { key = "$work/pub.pem"; max_age = 3600; };
};
EOF
if out="$("$STIRWIRED" -t -c stirwired.conf 2>&1)"; then
    ok "stirwired -t accepts the http group"
else
    nok "stirwired -t: $out"
fi
if start_server swd "$P_SWD" "$STIRWIRED" -f -c stirwired.conf; then
    swd_pid=$srv_pid
    calls swd "$P_SWD"
    compare swd "$P_SWD"
    if stop_server "$swd_pid"; then
        ok "stirwired stopped cleanly on SIGTERM"
    else
        nok "stirwired did not stop cleanly on SIGTERM"
    fi
fi

finish
