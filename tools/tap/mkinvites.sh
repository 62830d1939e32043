#!/usr/bin/env bash
# mkinvites.sh - signed SIP INVITEs for the TAP's capture fixtures (tools/tap/mkcaptures.py):
# N good ones signed with `stirwire sign`, one whose signature is tampered with, and one
# unsigned, each a file whose name says what a verifier must find:
#   valid-NN.sip  invalid-SIGNATURE-01.sip  unsigned-01.sip
# From/To/P-Asserted-Identity carry the PASSporT's orig and dest; the Identity header's
# info (and the PASSporT's x5u) is X5U.
#
# Usage: mkinvites.sh OUTDIR KEY X5U [N]      (N good INVITEs, default 4)
# Environment: STIRWIRE  the tool (default: stirwire on PATH)
#              IAT       the iat of every PASSporT, Unix seconds (default: now)
# Exit 0 done, 1 a step failed (the message says which), 2 usage.
set -euo pipefail

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
    echo "usage: $0 OUTDIR KEY X5U [N]" >&2
    exit 2
fi
out="$1" key="$2" x5u="$3" n="${4:-4}"
case "$n" in '' | *[!0-9]*) echo "$0: N must be a number" >&2 && exit 2 ;; esac
STIRWIRE="${STIRWIRE:-stirwire}"
mkdir -p "$out"

# sign ORIG DEST: the Identity header value on stdout.
sign() {
    local args=(sign --orig "$1" --dest "$2" --attest A --x5u "$x5u" --key "$key")
    [ -n "${IAT:-}" ] && args+=(--iat "$IAT")
    "$STIRWIRE" "${args[@]}"
}

# invite FILE ORIG DEST CALLID [IDENTITY]: one INVITE, CRLF line ends, no body.
invite() {
    local file="$1" orig="$2" dest="$3" callid="$4" ident="${5:-}"
    {
        printf 'INVITE sip:+%s@198.51.100.20:5060;user=phone SIP/2.0\r\n' "$dest"
        printf 'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-%s\r\n' "$callid"
        printf 'From: <sip:+%s@192.0.2.10;user=phone>;tag=%s\r\n' "$orig" "$callid"
        printf 'To: <sip:+%s@198.51.100.20;user=phone>\r\n' "$dest"
        printf 'Call-ID: %s@192.0.2.10\r\n' "$callid"
        printf 'CSeq: 1 INVITE\r\n'
        printf 'Contact: <sip:caller@192.0.2.10:5060>\r\n'
        printf 'Max-Forwards: 70\r\n'
        printf 'P-Asserted-Identity: <tel:+%s>\r\n' "$orig"
        [ -n "$ident" ] && printf 'Identity: %s\r\n' "$ident"
        printf 'Content-Length: 0\r\n\r\n'
    } >"$file"
}

# flip_sig IDENTITY: the same value with one character in the middle of the signature
# changed (all six bits of a middle base64url character are signature bits).
flip_sig() {
    local jwt="${1%%;*}" rest="${1#*;}" sig c i
    sig="${jwt##*.}"
    i=$((${#sig} / 2))
    c="${sig:i:1}"
    if [ "$c" = A ]; then c=B; else c=A; fi
    printf '%s.%s;%s' "${jwt%.*}" "${sig:0:i}$c${sig:i+1}" "$rest"
}

for k in $(seq 1 "$n"); do
    orig="1202555$(printf '%04d' $((100 + k)))"
    dest="1303555$(printf '%04d' $((200 + k)))"
    id="$(sign "$orig" "$dest")" || { echo "$0: stirwire sign failed" >&2 && exit 1; }
    invite "$out/valid-$(printf '%02d' "$k").sip" "$orig" "$dest" "tap-valid-$k" "$id"
done
orig=12025550190 dest=13035550290
id="$(sign "$orig" "$dest")" || { echo "$0: stirwire sign failed" >&2 && exit 1; }
invite "$out/invalid-SIGNATURE-01.sip" "$orig" "$dest" tap-tampered-1 "$(flip_sig "$id")"
invite "$out/unsigned-01.sip" 12025550191 13035550291 tap-unsigned-1
