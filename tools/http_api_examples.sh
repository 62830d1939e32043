#!/bin/sh
# http_api_examples.sh - makes the test key tests/data/http_api_key.pem (once) and prints
# the Identity values used as examples in src/http/openapi.json, signed with that key at a
# fixed iat (1700000000, 2023-11-14T22:13:20Z). tests/unit/test_http_api.c runs every
# example of the document through the handlers with this key and a maximum age long
# enough for that iat, and checks the documented status. Run it again (and paste the
# output into openapi.json) only when the examples' claims change.
# Usage: tools/http_api_examples.sh [path/to/stirwire]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
STIRWIRE=${1:-${STIRWIRE:-$top/build/src/cli/stirwire}}
key=$top/tests/data/http_api_key.pem
x5u=https://certs.example.net/sp.pem
[ -f "$key" ] || openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out "$key"
sign() { "$STIRWIRE" sign --key "$key" --x5u "$x5u" --iat 1700000000 \
    --origid 123e4567-e89b-42d3-a456-426614174000 "$@"; }
echo "valid (orig 12025550100, dest 12025550199, A):"
sign --orig 12025550100 --dest 12025550199 --attest A
