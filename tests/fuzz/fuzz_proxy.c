/*
 * fuzz_proxy.c - libFuzzer target for the proxy's whole path on one message: parsing,
 * trunk matching, Max-Forwards, branch and loop checks, Route and Via edits, the sign and
 * strip filters, splicing, and reply building (sw_proxy_handle, as a worker calls it).
 *
 * The first input byte picks the source (the signing trunk, the stripping trunk, or an
 * unknown address) and the transport; the rest is the message. A configuration with both
 * trunks and a fresh signing key is made once, in a temporary directory.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/daemon/conffile.h"
#include "../../src/proxy/proxy.h"

static struct sw_config *cfg;
static struct sw_proxy_env env;
static char *out;

static void setup(void)
{
    char dir[] = "/tmp/sw-fuzz-proxy-XXXXXX", path[256], keypath[256], errs[4096];
    sw_ctx *ctx = sw_ctx_new();
    sw_key *key = NULL;
    char *pem = NULL;
    FILE *f;

    if (mkdtemp(dir) == NULL || sw_key_generate(ctx, &key) != SW_OK ||
        sw_key_private_pem(ctx, key, &pem) != SW_OK)
        abort();
    snprintf(keypath, sizeof(keypath), "%s/key.pem", dir);
    snprintf(path, sizeof(path), "%s/fuzz.conf", dir);
    if ((f = fopen(keypath, "w")) == NULL)
        abort();
    fputs(pem, f);
    fclose(f);
    if ((f = fopen(path, "w")) == NULL)
        abort();
    fprintf(f,
            "listen = ( { address = \"127.0.0.1\"; port = 5060; } );\n"
            "trunks = (\n"
            " { name = \"pbx\"; match = { source = [ \"10.0.0.1/32\" ]; };\n"
            "   next_hop = \"sip:10.0.0.2:5060\"; next_hop_tcp = true; record_route = true;\n"
            "   filters = [ \"sign\" ];\n"
            "   sign = { key = \"%s\"; x5u = \"https://cert.example.org/sp.pem\";\n"
            "            attest = ( { numbers = [ \"1202555\" ]; level = \"A\"; },\n"
            "                       { level = \"B\"; } ); }; },\n"
            " { name = \"carrier\"; match = { source = [ \"10.0.0.2/32\" ]; };\n"
            "   next_hop = \"sip:10.0.0.1:5060\"; filters = [ \"strip\" ]; } );\n",
            keypath);
    fclose(f);
    if (sw_config_load(path, NULL, &cfg, errs, sizeof(errs)) != 0) {
        fprintf(stderr, "%s", errs);
        abort();
    }
    unlink(keypath);
    unlink(path);
    rmdir(dir);
    sw_free(pem);
    sw_key_free(key);
    sw_ctx_free(ctx);
    env.cfg = cfg;
    snprintf(env.host, sizeof(env.host), "127.0.0.1");
    env.port = 5060;
    env.ctx = sw_ctx_new();
    env.secret = 42;
    if ((out = malloc(SW_OUT_MAX)) == NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sockaddr_in src;
    struct sw_stats st;
    struct sw_out o;
    struct sw_rx rx;

    if (cfg == NULL)
        setup();
    if (size < 1 || size > SIP_MAX_MSG + 1)
        return 0;
    memset(&src, 0, sizeof(src));
    src.sin_family = AF_INET;
    src.sin_port = htons(5060);
    src.sin_addr.s_addr = htonl(data[0] % 3 == 0   ? 0x0a000001
                                : data[0] % 3 == 1 ? 0x0a000002
                                                   : 0x0a000009);
    memset(&st, 0, sizeof(st));
    rx.buf = (const char *)data + 1;
    rx.len = size - 1;
    rx.src = (struct sockaddr *)&src;
    rx.srclen = sizeof(src);
    rx.transport = (data[0] & 0x80) ? SW_TCP : SW_UDP;
    rx.now = 1700000000;
    sw_proxy_handle(&env, &rx, out, &o, &st);
    /* no wait queue here: nothing may be parked, so nothing is absorbed either */
    if (o.act == SW_ACT_PARKED || o.act == SW_ACT_ABSORBED)
        abort();
    if (o.act != SW_ACT_DROP && (o.len == 0 || o.len > SW_OUT_MAX))
        abort();
    return 0;
}
