#!/usr/bin/env bash
# cli.sh - the stirwire tool, end to end: keygen, sign, check and decode as a user runs
# them, with exact exit codes (the error classes) and the fields a script would read.
#
# Keys for the negative cases (P-384, a second P-256 key) are made with openssl so the
# tool is tested against keys it did not make itself. Every check prints one line; the
# script exits 0 when all pass, 1 when any fails, 77 (automake's "skip") when openssl is
# not installed. It runs in a temporary directory that it removes.
#
# Environment: STIRWIRE is the built tool (make check sets it), SRCDIR the source tree.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

skip_without openssl
need_built STIRWIRE
make_workdir cli

# one_line WHAT: stderr (or stdout when stderr is empty) is exactly one line.
one_line() {
    local n
    n="$( (cat err.txt; [ -s err.txt ] || cat out.txt) | wc -l)"
    if [ "$n" -eq 1 ]; then
        ok "$1: the message is one line"
    else
        nok "$1: the message has $n lines"
    fi
}

ORIG=12025550100
DEST=12025550199
X5U=https://cert.example.org/shaken.pem
now=$(date +%s)

# --- keygen --------------------------------------------------------------------------------
run keygen --out key.pem --pub key.pub.pem
expect "keygen --out key.pem --pub key.pub.pem" 0
mode="$(stat -c %a key.pem 2>/dev/null)"
if [ "$mode" = 600 ]; then
    ok "keygen: private key file has mode 600"
else
    nok "keygen: private key file has mode ${mode:-?}, want 600"
fi
if openssl pkey -in key.pem -noout -text 2>/dev/null | grep -Eq 'prime256v1|P-256'; then
    ok "keygen: openssl reads key.pem as a P-256 key"
else
    nok "keygen: openssl does not read key.pem as a P-256 key"
fi
if grep -q 'BEGIN PUBLIC KEY' key.pub.pem 2>/dev/null &&
    [ "$(openssl pkey -in key.pem -pubout 2>/dev/null)" = "$(cat key.pub.pem)" ]; then
    ok "keygen: key.pub.pem is the public half of key.pem"
else
    nok "keygen: key.pub.pem is not the public half of key.pem"
fi
cp key.pem key.before
run keygen --out key.pem
expect "keygen refuses to overwrite key.pem" 2 'exists.*--force' stderr
if cmp -s key.pem key.before; then
    ok "keygen: the refused key.pem is unchanged"
else
    nok "keygen: the refused key.pem was changed"
fi
run keygen --out key2.pem --force
expect "keygen --force onto a new file" 0
run keygen
expect "keygen to stdout" 0 'BEGIN PRIVATE KEY'

# Keys made by openssl: another P-256 key and a P-384 key.
openssl ecparam -name prime256v1 -genkey -noout -out other.pem 2>/dev/null &&
    openssl ec -in other.pem -pubout -out other.pub.pem 2>/dev/null
openssl ecparam -name secp384r1 -genkey -noout -out p384.pem 2>/dev/null
if [ -s other.pub.pem ] && [ -s p384.pem ]; then
    ok "openssl made a second P-256 key and a P-384 key"
else
    nok "openssl could not make the test keys"
fi

# --- sign and check ------------------------------------------------------------------------
now=$(date +%s) # the time the token below is made (later checks judge at --now "$now")
run sign --orig "$ORIG" --dest "$DEST" --attest A --x5u "$X5U" --key key.pem
expect "sign" 0 '^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+;info=<'"$X5U"'>'
ident="$out"
printf '%s\n' "$ident" >ident.txt
if [ "$(wc -l <out.txt)" -eq 1 ]; then
    ok "sign prints exactly one line"
else
    nok "sign prints $(wc -l <out.txt) lines"
fi

run check --key key.pub.pem "$ident"
expect "check with the public key" 0 "^valid: attest A, orig $ORIG, dest $DEST, iat [0-9]+, origid"
run check --key key.pem - <ident.txt
expect "check from stdin with the private key file" 0 '^valid:'
run check --key key.pub.pem <ident.txt
expect "check from stdin without '-'" 0 '^valid:'
printf 'Identity: %s\r\n' "$ident" >hdr.txt
run check --key key.pub.pem - <hdr.txt
expect "check strips 'Identity:' and CRLF" 0 '^valid:'
run check --key key.pub.pem "y: $ident"
expect "check strips 'y:'" 0 '^valid:'
run check --key key.pub.pem --input ident.txt
expect "check --input FILE" 0 '^valid:'

run check --key key.pub.pem --json "$ident"
expect "check --json: valid" 0 '"valid":true'
expect "check --json: error OK" 0 '"error":"OK"'
expect "check --json: claims attest A" 0 '"claims":\{[^}]*"attest":"A"'
expect "check --json: claims orig" 0 "\"claims\":\\{[^}]*\"orig\":\"$ORIG\""
expect "check --json: claims dest" 0 "\"claims\":\\{[^}]*\"dest\":\\[\"$DEST\"\\]"
expect "check --json: claims x5u" 0 "\"x5u\":\"$X5U\""
expect "check --json: verstat" 0 '"verstat":"TN-Validation-Passed"'
if command -v jq >/dev/null 2>&1; then
    if jq -e '.valid == true and .code == 0 and (.claims.iat | type) == "number"' \
        out.txt >/dev/null 2>&1; then
        ok "check --json is one valid JSON object (jq)"
    else
        nok "check --json is not the JSON object wanted: $out"
    fi
fi

# Several dest numbers, the compact form, a fixed origid and iat.
run sign --orig "+1 (202) 555-0100" --dest "$DEST,12025550198" --attest b --x5u "$X5U" \
    --key key.pem --origid 123e4567-e89b-42d3-a456-426614174000 --iat "$now" --compact
expect "sign --compact with two dest, origid and iat" 0 '^eyJ[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+;'
compact="$out"
run decode "$compact"
expect "decode of the compact form says form compact" 0 '"form": "compact"'
run check --key key.pub.pem "$compact"
expect "check of the compact form (no SIP message to rebuild claims)" 4 'compact form'

run sign --orig "$ORIG" --dest "$DEST,12025550198" --attest B --x5u "$X5U" --key key.pem \
    --origid 123e4567-e89b-42d3-a456-426614174000 --iat "$now"
multi="$out"
run check --key key.pub.pem --dest 12025550198 "$multi"
expect "check --dest finds the second dest number" 0 \
    "^valid: attest B, orig $ORIG, dest $DEST,12025550198, iat $now, origid 123e4567"

# --- orig / dest against the call ----------------------------------------------------------
run check --key key.pub.pem --orig "+1-202-555-0100" --dest "tel:+$DEST" "$ident"
expect "check --orig/--dest matching (with separators and tel:)" 0 '^valid:'
run check --key key.pub.pem --orig 12025550111 "$ident"
expect "check --orig another number" 6 '^invalid: .*\(SIP 438 Invalid Identity Header\)$'
run check --key key.pub.pem --orig 12025550111 --json "$ident"
expect "check --orig mismatch --json" 6 '"error":"ORIG_MISMATCH"'
run check --key key.pub.pem --dest 12025550111 --json "$ident"
expect "check --dest mismatch --json" 6 '"error":"DEST_MISMATCH"'
run check --key key.pub.pem --orig not-a-number "$ident"
expect "check --orig that is no telephone number" 2 'orig' stderr

# --- forgeries -----------------------------------------------------------------------------
jwt="${ident%%;*}"
params="${ident#"$jwt"}"
hdr="${jwt%%.*}"
rest="${jwt#*.}"
payload="${rest%%.*}"
sig="${jwt##*.}"
plain="$(b64url_decode "$payload")"
# Change the last digit of orig.tn (0 -> 1), keep everything else byte for byte.
forged_plain="$(printf '%s' "$plain" | sed -E 's/("orig":\{"tn":"[0-9]*)0"/\11"/')"
if [ "$forged_plain" != "$plain" ] && [ -n "$forged_plain" ]; then
    forged="$(printf '%s' "$forged_plain" | b64url_encode)"
    printf '%s\n' "$hdr.$forged.$sig$params" >tampered.txt
    run check --key key.pub.pem - <tampered.txt
    expect "tampered payload (orig.tn digit changed)" 7 \
        '^invalid: signature does not verify.*\(SIP 438 Invalid Identity Header\)$'
    run check --key key.pub.pem --json - <tampered.txt
    expect "tampered payload --json" 7 '"error":"SIGNATURE"'
else
    nok "could not tamper with the payload: $plain"
fi

run check --key other.pub.pem "$ident"
expect "check with another key" 7 '^invalid: signature does not verify'
run check --key other.pub.pem --json "$ident"
expect "check with another key --json" 7 '"error":"SIGNATURE"'

# --- freshness -----------------------------------------------------------------------------
run sign --orig "$ORIG" --dest "$DEST" --attest A --x5u "$X5U" --key key.pem --iat $((now - 3600))
stale="$out"
run check --key key.pub.pem --json "$stale"
expect "iat an hour ago" 5 '"error":"STALE"'
run check --key key.pub.pem --max-age 7200 "$stale"
expect "iat an hour ago with --max-age 7200" 0 '^valid:'
run check --key key.pub.pem --now $((now - 3590)) "$stale"
expect "iat an hour ago with --now ten seconds after it" 0 '^valid:'
run sign --orig "$ORIG" --dest "$DEST" --attest A --x5u "$X5U" --key key.pem --iat $((now + 3600))
future="$out"
run check --key key.pub.pem --json "$future"
expect "iat an hour ahead" 5 '"error":"FUTURE"'
run check --key key.pub.pem --skew 7200 "$future"
expect "iat an hour ahead with --skew 7200" 0 '^valid:'

# --- keys that cannot be used ---------------------------------------------------------------
run sign --orig "$ORIG" --dest "$DEST" --attest A --x5u "$X5U" --key p384.pem
expect "sign with a P-384 key" 2 'P-256' stderr
one_line "sign with a P-384 key"
run sign --orig "$ORIG" --dest "$DEST" --attest A --x5u "$X5U" --key "$work/no/such/key.pem"
expect "sign with a missing key file" 2 "stirwire sign: .*$work/no/such/key.pem" stderr
one_line "sign with a missing key file"
run check --key "$work/missing.pem" "$ident"
expect "check with a missing key file" 2 "$work/missing.pem" stderr
# Without --key the certificate is fetched from info (cert.example.org): whether that
# host fails to resolve, to connect or to serve, and with no trust anchors anyway, the
# verdict is a certificate problem. tests/integration/cert_cli.sh covers fetching fully.
run check --timeout 2 "$ident"
expect "check without --key fetches from info and fails" 8 '^invalid: '
one_line "check without --key"

# --- bad input -----------------------------------------------------------------------------
run check --key key.pub.pem "this is not an identity header"
expect "check garbage" 4 '^invalid: '
one_line "check garbage"
run check --key key.pub.pem --json "garbage"
expect "check garbage --json" 4 '"valid":false'
run check --key key.pub.pem "$hdr.!!!.$sig$params"
expect "check a payload that is not base64url" 4 '^invalid:'
run check --key key.pub.pem - </dev/null
expect "check empty stdin" 3 '^invalid:'
run decode "garbage.garbage.garbage"
expect "decode garbage" 4 'stirwire decode: ' stderr
one_line "decode garbage"

# A 1 MB argument: Linux passes at most 128 KiB in one argument (MAX_ARG_STRLEN), so
# execve itself may refuse it; then the largest argument the kernel allows is used.
big="$(head -c 1000000 /dev/zero | tr '\0' a)"
run check --key key.pub.pem "$big"
if [ "$rc" -eq 126 ] && grep -q 'Argument list too long' err.txt; then
    ok "1 MB argument: the kernel refuses it before stirwire runs (E2BIG); trying 131071 bytes"
    big="$(head -c 131071 /dev/zero | tr '\0' a)"
    run check --key key.pub.pem "$big"
fi
expect "check a ${#big}-byte argument" 4 '^invalid: Identity header is too long'
one_line "check a ${#big}-byte argument"
head -c 1000000 /dev/zero | tr '\0' a >big.txt
run check --key key.pub.pem - <big.txt
expect "check 1 MB on stdin" 4 '64 KiB'
one_line "check 1 MB on stdin"
run decode - <big.txt
expect "decode 1 MB on stdin" 4 '64 KiB' stderr
head -c 100000 /dev/urandom >random.bin
run check --key key.pub.pem - <random.bin
if [ "$rc" -ge 2 ] && [ "$rc" -le 4 ]; then
    ok "check 100 kB of random bytes: exit $rc, no crash"
else
    nok "check 100 kB of random bytes: exit $rc"
fi

# --- decode --------------------------------------------------------------------------------
run decode "$ident"
expect "decode" 0 '"alg": "ES256"'
if command -v jq >/dev/null 2>&1; then
    if [ "$(jq -r .header.alg out.txt 2>/dev/null)" = ES256 ] &&
        [ "$(jq -r .payload.orig.tn out.txt 2>/dev/null)" = "$ORIG" ]; then
        ok "decode: header.alg is ES256 and payload.orig.tn is $ORIG (jq)"
    else
        nok "decode: header.alg / payload.orig.tn wrong: $out"
    fi
else
    expect "decode: payload has orig.tn" 0 "\"tn\": \"$ORIG\""
fi
run decode - <tampered.txt
expect "decode does not verify (tampered token decodes)" 0 '"form": "full"'

# --- an Identity in a file, and whole SIP requests (--sip) ----------------------------------
# These are judged at --now "$now", the time the token and the Date were made: on a loaded
# machine (a sanitizer build) the script can take longer than the 60 s freshness window.
run check --key key.pub.pem --now "$now" ident.txt
expect "check FILE reads the Identity from the file" 0 '^valid: attest A'
run decode ident.txt
expect "decode FILE reads the Identity from the file" 0 '"form": "full"'

date_hdr="$(LC_ALL=C date -u -d "@$now" '+%a, %d %b %Y %H:%M:%S GMT')"
# sip_request IDENTITY_LINES [FROM]: an INVITE as a log shows it: a log line first, LF line
# ends, compact names, a folded header, and a Content-Length that no longer fits the body.
sip_request() {
    printf '2023-11-14 22:13:20.123 UDP 192.0.2.7:5060 -> 192.0.2.8:5060\n'
    printf 'INVITE sip:+%s@b.example;user=phone SIP/2.0\n' "$DEST"
    printf 'v: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK1\n'
    printf 'f: %s;tag=1\n' "${2:-<sip:+1-202-555-0100@a.example;user=phone>}"
    printf 't: <tel:+%s>\n' "$DEST"
    printf 'i: 1@x\nCSeq: 1 INVITE\nSubject: a folded\n  header\n'
    printf 'Date: %s\n' "$date_hdr"
    printf '%s' "$1"
    printf 'l: 999\n\nv=0\n'
}
sip_request "Identity: $ident"$'\n' >invite.txt
run check --key key.pub.pem --now "$now" --sip invite.txt
expect "check --sip FILE (LF line ends, log prefix, compact names)" 0 \
    "^valid: attest A, orig $ORIG, dest $DEST, iat [0-9]+, origid .*, verstat TN-Validation-Passed$"
run check --key key.pub.pem --now "$now" --sip - <invite.txt
expect "check --sip - (standard input)" 0 'verstat TN-Validation-Passed$'
sed 's/$/\r/' invite.txt >invite-crlf.txt
run check --key key.pub.pem --now "$now" --sip invite-crlf.txt
expect "check --sip with CRLF line ends" 0 'verstat TN-Validation-Passed$'
sip_request "y: $ident"$'\n' | sed '/^l: /,$d' >invite-y.txt
printf 'trailing log text\n  \n' >>invite-y.txt
run check --key key.pub.pem --now "$now" --sip invite-y.txt
expect "check --sip: y: header, no blank line, trailing text" 0 'verstat TN-Validation-Passed$'

run check --key key.pub.pem --now "$now" --sip invite.txt --json
expect "check --sip --json: valid" 0 '"valid":true'
expect "check --sip --json: verstat" 0 '"verstat":"TN-Validation-Passed"'
expect "check --sip --json: identities and chosen" 0 '"identities":1,"chosen":0'
expect "check --sip --json: the request's numbers" 0 "\"orig\":\"$ORIG\",\"dest\":\"$DEST\""
expect "check --sip --json: div null" 0 '"div":null'
expect "check --sip --json: sip_status" 0 '"sip_status":200'
if command -v jq >/dev/null 2>&1; then
    if jq -e '.valid and .reason_header == null and .claims.attest == "A" and .compact == false' \
        out.txt >/dev/null 2>&1; then
        ok "check --sip --json is one JSON object with the claims (jq)"
    else
        nok "check --sip --json is not the JSON object wanted: $out"
    fi
fi

# a div PASSporT (RFC 8946) beside the shaken one: reported, not chosen
div_hdr="$(printf '{"alg":"ES256","ppt":"div","typ":"passport","x5u":"%s"}' "$X5U" | b64url_encode)"
div_pay="$(printf '{"dest":{"tn":["%s"]},"div":{"tn":"14045550100"},"iat":%s,"orig":{"tn":"%s"}}' \
    "$DEST" "$now" "$ORIG" | b64url_encode)"
div_id="$div_hdr.$div_pay.$sig;info=<$X5U>;ppt=div"
sip_request "Identity: $div_id"$'\n'"Identity: $ident"$'\n' >invite-div.txt
run check --key key.pub.pem --now "$now" --sip invite-div.txt --json
expect "check --sip with div: chosen the shaken one" 0 '"identities":2,"chosen":1'
expect "check --sip with div: div reported" 0 '"div":\{"orig":"'"$ORIG"'","tn":"14045550100"\}'
sip_request "Identity: $div_id"$'\n' >invite-divonly.txt
run check --key key.pub.pem --now "$now" --sip invite-divonly.txt
expect "check --sip with only a div PASSporT" 3 '^invalid: no Identity header: only a div PASSporT'

run check --key key.pub.pem --sip invite.txt --now $((now + 120)) --max-age 300 --json
expect "check --sip, Date too old at --now, iat fine with --max-age" 0 '"valid":true'
run check --key key.pub.pem --sip invite.txt --now $((now + 120)) --json
expect "check --sip: a stale Date and iat" 5 '"error":"DATE_STALE"'
expect "check --sip: the Reason header of a stale Date" 5 '"reason_header":"STIR;cause=403;'
run check --key key.pub.pem --sip invite.txt --now $((now + 120)) --date ignore --json
expect "check --sip --date ignore: then iat is stale" 5 '"error":"STALE"'
grep -v '^Date:' invite.txt >invite-nodate.txt
run check --key key.pub.pem --now "$now" --sip invite-nodate.txt --date require
expect "check --sip --date require without Date" 5 '^invalid: .*\(SIP 403 Stale Date\), verstat TN-Validation-Failed$'
run check --key key.pub.pem --now "$now" --sip invite.txt --dest-ruri
expect "check --sip --dest-ruri (the same number)" 0 'verstat TN-Validation-Passed$'

sip_request "Identity: $ident"$'\n' '"Anonymous" <sip:anonymous@anonymous.invalid>' >invite-anon.txt
run check --key key.pub.pem --now "$now" --sip invite-anon.txt --json
expect "check --sip anonymous: NO_TN" 3 '"error":"NO_TN"'
expect "check --sip anonymous: No-TN-Validation" 3 '"verstat":"No-TN-Validation"'
run check --key key.pub.pem --now "$now" --sip invite-anon.txt --anonymous verify
expect "check --sip anonymous, --anonymous verify" 6 '^invalid: orig.tn does not match'
sip_request "Identity: $ident"$'\n' '<sip:+12025550111@a.example;user=phone>' >invite-other.txt
run check --key key.pub.pem --now "$now" --sip invite-other.txt
expect "check --sip from another number" 6 '\(SIP 438 Invalid Identity Header\), verstat TN-Validation-Failed$'
sip_request "Identity: $compact"$'\n' >invite-compact.txt
run check --key key.pub.pem --now "$now" --sip invite-compact.txt --json
expect "check --sip of a compact shaken token" 4 '"error":"COMPACT_SHAKEN"'
sip_request "Identity: not-a-token"$'\n'"Identity: $ident"$'\n' >invite-garbage.txt
run check --key key.pub.pem --now "$now" --sip invite-garbage.txt
expect "check --sip: a garbage Identity beside a good one" 0 'Identity 2 of 2, verstat TN-Validation-Passed$'
sip_request "" >invite-none.txt
run check --key key.pub.pem --now "$now" --sip invite-none.txt
expect "check --sip without Identity" 3 '^invalid: no Identity header.*\(SIP 428 Use Identity Header\)'
run check --key key.pub.pem --now "$now" --sip - </dev/null
expect "check --sip of empty input" 2 'not a SIP request' stderr
one_line "check --sip of empty input"
printf 'SIP/2.0 200 OK\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:1@x>;tag=1\nTo: <sip:2@x>\nCall-ID: 1\nCSeq: 1 INVITE\n\n' >resp.txt
run check --key key.pub.pem --now "$now" --sip resp.txt
expect "check --sip of a response" 2 'response' stderr
run check --key key.pub.pem --sip invite.txt --orig "$ORIG"
expect "check --sip with --orig" 1 'read from the request' stderr
run check --key key.pub.pem --sip invite.txt "$ident"
expect "check --sip with an IDENTITY too" 1 'no IDENTITY' stderr
run check --key key.pub.pem --date require "$ident"
expect "check --date without --sip" 1 'option of --sip' stderr
run check --key key.pub.pem --sip invite.txt --date sometimes
expect "check --date sometimes" 1 'check, require or ignore' stderr

# --- usage ---------------------------------------------------------------------------------
for cmd in keygen sign check decode; do
    run "$cmd" --help
    expect "$cmd --help" 0 "^Usage: stirwire $cmd"
    run help "$cmd"
    expect "help $cmd" 0 "^Usage: stirwire $cmd"
done
run --help
expect "--help" 0 '^Usage: stirwire'
run --version
expect "--version" 0 '^stirwire [0-9]'
run frobnicate
expect "unknown subcommand" 1 "unknown command 'frobnicate'" stderr
one_line "unknown subcommand"
run
expect "no subcommand" 1
run check --frob "$ident"
expect "unknown option" 1 'unknown option --frob' stderr
run sign --orig "$ORIG" --attest A --key key.pem
expect "sign without --dest and --x5u" 1 'missing --dest, --x5u' stderr
run sign --orig "$ORIG" --dest "$DEST" --attest D --x5u "$X5U" --key key.pem
expect "sign --attest D" 1 'attest' stderr
run sign --orig "$ORIG" --dest "$DEST" --attest A --x5u "$X5U" --key key.pem --iat soon
expect "sign --iat soon" 1 'iat' stderr
run check --key key.pub.pem --max-age 99999999999999999999999 "$ident"
expect "check --max-age out of range" 1 'max-age' stderr
run check --key key.pub.pem --max-age -5 "$ident"
expect "check --max-age -5" 1 'max-age' stderr
run check --key key.pub.pem --skew 5s "$ident"
expect "check --skew 5s" 1 'skew' stderr
run check --key key.pub.pem "$ident" extra
expect "check with two identities" 1 'unexpected argument' stderr
run check --key
expect "check --key without a value" 1 'needs a value' stderr

finish
