/*
 * fuzz_stir.c - libFuzzer target for stir_verify() (src/sip/stir.c): how a whole SIP
 * request's Identity headers are read, chosen and judged, as the verify filter and
 * "stirwire check --sip" do it.
 *
 * The input is one SIP request. It is parsed with sip_parse(); a request that parses is
 * verified three times, with the default options and with each alternative (called
 * number from the Request-URI, Date required or ignored, anonymous calls verified), at
 * the iat of its first Identity header that parses (so that the seeds, signed by the key
 * below, reach the signature check and a valid verdict). The certificate is that fixed
 * public key: nothing is fetched. The target aborts when the result breaks its contract:
 * err differs from the return value, a string is not terminated, chosen is out of range,
 * verstat is not sw_err_verstat(err), a failure has no detail, or a valid verdict has no
 * chosen shaken header. A response goes through too: it must be refused (INVAL), not judged.
 *
 * The key: the seeds in corpus/stir/ were signed with a throwaway key whose public half
 * is below (see README.md for how they were made); only its public half is needed here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/sip/fields.h"
#include "../../src/sip/stir.h"

static const char fuzz_pub_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEsmq5csuj+E2JbkvY16n6ctIE7RhJ\n"
    "/qcvUjDoCB6QIVh21Ny2NzuphRA26yS7EcK4JA+aTS3aJzqw1NWGMBf2pQ==\n"
    "-----END PUBLIC KEY-----\n";

static sw_pubkey *fuzz_pub;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    sw_ctx *ctx = sw_ctx_new();

    (void)argc;
    (void)argv;
    if (ctx == NULL ||
        sw_pubkey_load_pem(ctx, fuzz_pub_pem, strlen(fuzz_pub_pem), &fuzz_pub) != SW_OK)
        abort();
    sw_ctx_free(ctx);
    return 0;
}

/* A fixed buffer of the result must hold a terminated string. */
static void terminated(const char *s, size_t size)
{
    if (memchr(s, '\0', size) == NULL)
        abort();
}

static void check(const struct sip_msg *m, const struct stir_opts *o, int64_t now)
{
    struct stir_result r;
    sw_ctx *ctx = sw_ctx_new();
    sw_err err;

    if (ctx == NULL)
        abort();
    sw_ctx_set_now(ctx, now);
    err = stir_verify(ctx, NULL, fuzz_pub, m, o, 0, &r);
    if (err != r.err || err == SW_ERR_PENDING)
        abort();
    if (r.verstat == NULL || strcmp(r.verstat, sw_err_verstat(err)) != 0)
        abort();
    terminated(r.detail, sizeof(r.detail));
    terminated(r.orig, sizeof(r.orig));
    terminated(r.dest, sizeof(r.dest));
    terminated(r.origid, sizeof(r.origid));
    terminated(r.x5u, sizeof(r.x5u));
    terminated(r.spc, sizeof(r.spc));
    terminated(r.div_orig, sizeof(r.div_orig));
    terminated(r.div_tn, sizeof(r.div_tn));
    if (r.chosen < -1 || r.chosen >= r.identities || r.identities > SIP_MAX_HEADERS)
        abort();
    if (err != SW_OK && r.detail[0] == '\0')
        abort();
    if (err == SW_OK && (r.chosen < 0 || r.no_number || r.compact || r.orig[0] == '\0' ||
                         strchr("ABC", r.attest) == NULL || r.attest == 0))
        abort();
    if (err != SW_ERR_INVAL && r.no_number != (r.orig[0] == '\0'))
        abort();
    sw_ctx_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sip_msg m;
    struct stir_opts o;
    const struct sip_hdr *h;
    sw_identity *id = NULL;
    int64_t now = 1700000000;
    sw_ctx *ctx;
    size_t n;

    if (sip_parse(&m, (const char *)data, size, NULL, 0) != 0)
        return 0;
    /* the clock at the first parseable Identity's iat, so that the seeds verify */
    if ((ctx = sw_ctx_new()) == NULL)
        abort();
    for (n = 0; (h = sip_hdr_find(&m, SH_IDENTITY, n)) != NULL; n++) {
        if (sw_identity_parse(ctx, m.buf + h->value_off, h->value_len, &id) == SW_OK) {
            int64_t iat = sw_passport_iat(sw_identity_passport(id));
            sw_identity_free(id);
            if (iat > 0 && iat < INT64_C(253402300799))
                now = iat;
            break;
        }
    }
    sw_ctx_free(ctx);

    stir_opts_init(&o);
    check(&m, &o, now);
    o.dest_ruri = 1;
    o.date = STIR_DATE_REQUIRE;
    o.anonymous_is_verified = 1;
    check(&m, &o, now);
    o.date = STIR_DATE_IGNORE;
    o.date_max_age = 0;
    o.date_future_skew = 0;
    check(&m, &o, now + 1);
    return 0;
}
