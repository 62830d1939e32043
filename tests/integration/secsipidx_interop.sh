#!/usr/bin/env bash
# secsipidx_interop.sh - stirwire and secsipidx (the Go reference signer/verifier) must
# accept each other's Identity headers and reject the same forgeries.
#
# Keys are made with openssl (prime256v1), not by either tool, so that neither side
# can hide a key-format quirk. Every check prints one line; the script exits 0 when all
# pass, 1 when any fails, and 77 (automake's "skip") only when secsipidx is missing.
#
# Environment: STIRWIRE is the built tool (make check sets it), SRCDIR the source tree.
#
# Note: secsipidx 1.2.0 refuses, in its own check, an info URL that has a query string
# ("invalid value info header parameter"), so such URLs are only used in the direction
# secsipidx signs -> stirwire checks. secsipidx also writes '&' in JSON as \u0026 (Go's
# HTML escaping); stirwire must compare the decoded x5u with info, not the raw bytes.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SKIP_HINT="apt-get install secsipidx" skip_without secsipidx
for tool in openssl jq; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "FAIL: $tool is not installed (run tools/deps.sh)"
        exit 1
    fi
done
need_built STIRWIRE
make_workdir interop

# --- keys --------------------------------------------------------------------------------
mkkey() { # mkkey NAME: NAME.pem (private, SEC1) and NAME.pub.pem
    openssl ecparam -name prime256v1 -genkey -noout -out "$1.pem" 2>/dev/null &&
        openssl ec -in "$1.pem" -pubout -out "$1.pub.pem" 2>/dev/null
}
if mkkey key && mkkey other; then
    ok "openssl made two P-256 key pairs"
else
    nok "openssl could not make P-256 keys"
    finish
fi

payload_of() { # payload_of IDENTITY: the decoded JWT payload JSON
    local jwt="${1%%;*}"
    local rest="${jwt#*.}"
    b64url_decode "${rest%%.*}"
}
# The claims object inside stirwire's --json output, wherever the CLI nests it.
# (Today that is .passport.payload; a payload-shaped object anywhere else also counts.)
claims_of_json() {
    jq -cS '.passport.payload //
        first(.. | objects | select(has("attest") and (.orig | type) == "object")) // empty' \
        2>/dev/null
}

# --- 1. secsipidx signs, stirwire checks ---------------------------------------------------
# Each case: attest orig dest x5u [origid]
cases=(
    "A|12025550100|12025550199|https://cert.example.org/a.pem|"
    "B|14155550123|442079460000|https://cert.example.org/shaken/b.pem|"
    "C|33123456789|12125551212|https://certs.example.net/c.pem|"
    "A|12025550101|12025550102|https://cert.example.org/a.pem|123e4567-e89b-42d3-a456-426614174000"
    "B|18005550199|12025550100|https://cert.example.org/x.pem?id=42&v=1|"
    "A|12025550100|12025550199|https://cert.example.org:8443/k.pem?sig=ab%2Fcd|3f2504e0-4f89-41d3-9a0c-0305e82c3301"
)
n=0
for c in "${cases[@]}"; do
    n=$((n + 1))
    IFS='|' read -r attest orig dest x5u origid <<<"$c"
    args=(-sign-full -orig-tn "$orig" -dest-tn "$dest" -attest "$attest" -x5u "$x5u" -k key.pem)
    [ -n "$origid" ] && args+=(-orig-id "$origid")
    what="secsipidx-signed #$n (attest $attest, $orig -> $dest, x5u $x5u${origid:+, origid})"
    if ! ident="$(secsipidx "${args[@]}" 2>/dev/null)" || [ -z "$ident" ]; then
        nok "$what: secsipidx could not sign"
        continue
    fi
    printf '%s' "$ident" >"sx$n.txt"

    out="$("$STIRWIRE" check --key key.pub.pem "$ident" 2>&1)"
    rc=$?
    if [ $rc -eq 0 ]; then
        ok "$what: stirwire check accepts it"
    else
        nok "$what: stirwire check exit $rc: $out"
    fi

    # Same verdict when read from stdin, and when the numbers of the call are given.
    out="$("$STIRWIRE" check --key key.pub.pem --orig "+$orig" --dest "$dest" - <"sx$n.txt" 2>&1)"
    rc=$?
    if [ $rc -eq 0 ]; then
        ok "$what: stirwire check from stdin with --orig/--dest accepts it"
    else
        nok "$what: stirwire check (stdin, --orig/--dest) exit $rc: $out"
    fi

    # --json shows the claims secsipidx signed.
    want="$(payload_of "$ident" | jq -cS . 2>/dev/null)"
    json="$("$STIRWIRE" check --key key.pub.pem --json "$ident" 2>/dev/null)"
    got="$(printf '%s' "$json" | claims_of_json)"
    if [ -n "$want" ] && [ "$want" = "$got" ]; then
        ok "$what: check --json shows the same claims"
    else
        nok "$what: check --json claims differ: want $want got ${got:-<none>}"
    fi
    # ...and says valid, with the x5u secsipidx wrote (Go escapes '&' as \u0026).
    verdict="$(printf '%s' "$json" | jq -r '[.valid, .passport.header.x5u] | @tsv' 2>/dev/null)"
    if [ "$verdict" = "true	$x5u" ]; then
        ok "$what: check --json says valid, x5u $x5u"
    else
        nok "$what: check --json verdict/x5u: ${verdict:-<none>}"
    fi
done

# A different orig than the one signed must be a claims failure (6), not a pass.
"$STIRWIRE" check --key key.pub.pem --orig 19999999999 - <sx1.txt >/dev/null 2>&1
rc=$?
if [ $rc -eq 6 ]; then
    ok "secsipidx-signed #1 checked against another calling number: exit 6 (claims)"
else
    nok "secsipidx-signed #1 checked against another calling number: exit $rc, want 6"
fi

# --- 2. stirwire signs, secsipidx checks ---------------------------------------------------
sx_check() { # sx_check FILE PUB: prints secsipidx output, returns its exit status
    secsipidx -check -fidentity "$1" -fpubkey "$2" -expire 3600 2>&1
}
cases=(
    "A|12025550100|12025550199|"
    "B|+1 (415) 555-0123|442079460000|"
    "C|33123456789|12125551212,12125551213|"
    "A|12025550100|12025550199,12025550198,12025550197|"
    "B|12025550101|12025550102|3f2504e0-4f89-41d3-9a0c-0305e82c3301"
)
n=0
for c in "${cases[@]}"; do
    n=$((n + 1))
    IFS='|' read -r attest orig dest origid <<<"$c"
    args=(sign --orig "$orig" --dest "$dest" --attest "$attest"
        --x5u "https://cert.example.org/sw$n.pem" --key key.pem)
    [ -n "$origid" ] && args+=(--origid "$origid")
    what="stirwire-signed #$n (attest $attest, $orig -> $dest${origid:+, origid})"
    if ! ident="$("$STIRWIRE" "${args[@]}" 2>sign.err)" || [ -z "$ident" ]; then
        nok "$what: stirwire sign failed: $(cat sign.err)"
        continue
    fi
    printf '%s' "$ident" >"sw$n.txt"
    out="$(sx_check "sw$n.txt" key.pub.pem)"
    rc=$?
    if [ $rc -eq 0 ] && printf '%s\n' "$out" | grep -qx 'ok'; then
        ok "$what: secsipidx -check says ok"
    else
        nok "$what: secsipidx -check exit $rc: $out"
    fi
    ndest="$(payload_of "$ident" | jq '.dest.tn | length' 2>/dev/null)"
    want="$(awk -F, '{print NF}' <<<"$dest")"
    if [ "$ndest" = "$want" ]; then
        ok "$what: payload carries $want dest number(s)"
    else
        nok "$what: payload carries ${ndest:-?} dest numbers, want $want"
    fi
done

# With a fixed iat, secsipidx's expiry check must see the iat stirwire was given.
iat=$(($(date +%s) - 10))
if ident="$("$STIRWIRE" sign --orig 12025550100 --dest 12025550199 --attest A \
    --x5u https://cert.example.org/iat.pem --key key.pem --iat "$iat" 2>/dev/null)"; then
    printf '%s' "$ident" >iat.txt
    got="$(payload_of "$ident" | jq .iat 2>/dev/null)"
    out="$(sx_check iat.txt key.pub.pem)"
    rc=$?
    if [ "$got" = "$iat" ] && [ $rc -eq 0 ]; then
        ok "stirwire-signed with --iat $iat: iat kept, secsipidx says ok"
    else
        nok "stirwire-signed with --iat $iat: iat ${got:-?}, secsipidx exit $rc: $out"
    fi
else
    nok "stirwire sign --iat failed"
fi

# --- 3. forgeries both must reject ---------------------------------------------------------
# Tampered payload: same header and signature, orig.tn changed.
if [ -s sw1.txt ]; then
    ident="$(cat sw1.txt)"
    jwt="${ident%%;*}"
    params="${ident#"$jwt"}"
    hdr="${jwt%%.*}"
    sig="${jwt##*.}"
    forged="$(payload_of "$ident" | jq -c '.orig.tn = "12025550666"' | tr -d '\n' | b64url_encode)"
    printf '%s' "$hdr.$forged.$sig$params" >tampered.txt
    out="$(sx_check tampered.txt key.pub.pem)"
    rc=$?
    if [ $rc -ne 0 ] && ! printf '%s\n' "$out" | grep -qx 'ok'; then
        ok "tampered payload: secsipidx rejects it (exit $rc)"
    else
        nok "tampered payload: secsipidx accepted it: $out"
    fi
    out="$("$STIRWIRE" check --key key.pub.pem - <tampered.txt 2>&1)"
    rc=$?
    if [ $rc -eq 7 ]; then
        ok "tampered payload: stirwire check rejects it with exit 7 (signature)"
    else
        nok "tampered payload: stirwire check exit $rc, want 7: $out"
    fi
else
    nok "tampered payload: no stirwire-signed identity to tamper with"
fi

# Signed with another key: both must reject it against key.pub.pem.
if ident="$("$STIRWIRE" sign --orig 12025550100 --dest 12025550199 --attest A \
    --x5u https://cert.example.org/other.pem --key other.pem 2>/dev/null)"; then
    printf '%s' "$ident" >otherkey.txt
    out="$(sx_check otherkey.txt key.pub.pem)"
    rc=$?
    if [ $rc -ne 0 ] && ! printf '%s\n' "$out" | grep -qx 'ok'; then
        ok "signed with another key: secsipidx rejects it (exit $rc)"
    else
        nok "signed with another key: secsipidx accepted it: $out"
    fi
    out="$("$STIRWIRE" check --key key.pub.pem "$ident" 2>&1)"
    rc=$?
    if [ $rc -eq 7 ]; then
        ok "signed with another key: stirwire check rejects it with exit 7 (signature)"
    else
        nok "signed with another key: stirwire check exit $rc, want 7: $out"
    fi
    # ...and both accept it with the right key, so the rejection was about the key.
    out="$(sx_check otherkey.txt other.pub.pem)"
    rc1=$?
    "$STIRWIRE" check --key other.pub.pem "$ident" >/dev/null 2>&1
    rc2=$?
    if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ]; then
        ok "signed with another key: both accept it with that key's public half"
    else
        nok "signed with another key, right key: secsipidx exit $rc1 ($out), stirwire exit $rc2"
    fi
else
    nok "stirwire sign with the other key failed"
fi

# A secsipidx-signed identity with its payload tampered: stirwire says signature (7).
if [ -s sx1.txt ]; then
    ident="$(cat sx1.txt)"
    jwt="${ident%%;*}"
    params="${ident#"$jwt"}"
    forged="$(payload_of "$ident" | jq -c '.attest = "C"' | tr -d '\n' | b64url_encode)"
    printf '%s' "${jwt%%.*}.$forged.${jwt##*.}$params" >sxtampered.txt
    "$STIRWIRE" check --key key.pub.pem - <sxtampered.txt >/dev/null 2>&1
    rc=$?
    if [ $rc -eq 7 ]; then
        ok "secsipidx-signed, attest tampered: stirwire check exit 7 (signature)"
    else
        nok "secsipidx-signed, attest tampered: stirwire check exit $rc, want 7"
    fi
fi

finish
