/*
 * test_proxy.c - the stateless proxy's decisions for one message (src/proxy/proxy.c), with
 * no sockets: SIP text goes into sw_proxy_handle() with a source address, and the test
 * checks the action, destination, transport and the exact bytes that would be sent. A
 * forwarded request must be the received bytes plus our edits only (Via, Record-Route,
 * Max-Forwards, Route removal, received/rport, Identity), so expected output is built by
 * string surgery on the input and compared byte for byte.
 *
 * The configuration is a real libconfig file loaded with sw_config_load: a "pbx" trunk
 * (10.0.0.1 -> 10.0.0.2, Record-Route), its "carrier" mirror (10.0.0.2 -> 10.0.0.1), a
 * "strip" trunk, a "sign" trunk with a key made fresh for the run, and three trunks whose next
 * hop also takes TCP (one of them preferring fragmented UDP, one with Record-Route). We are
 * 192.0.2.1:5060.
 */
#define _GNU_SOURCE /* memmem */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "../../src/daemon/conffile.h"
#include "../../src/proxy/proxy.h"
#include "../../src/sip/sipmsg.h"

#define US "192.0.2.1:5060"
#define ORIG "12025550100"
#define DEST "12025550199"

static char dir[64], conf_path[128], key_path[128];
static struct sw_config *cfg;
static struct sw_proxy_env env;
static sw_pubkey *pub;
static struct sw_stats st;
static char out[SW_OUT_MAX];

static const char conf_fmt[] =
    "listen = ( { address = \"192.0.2.1\"; port = 5060; } );\n"
    "trunks = (\n"
    "  { name = \"pbx\"; match = { source = [ \"10.0.0.1/32\" ]; };\n"
    "    next_hop = \"sip:10.0.0.2:5060\"; record_route = true; },\n"
    "  { name = \"carrier\"; match = { source = [ \"10.0.0.2/32\" ]; };\n"
    "    next_hop = \"sip:10.0.0.1:5060\"; },\n"
    "  { name = \"strip\"; match = { source = [ \"10.0.0.3/32\" ]; };\n"
    "    next_hop = \"sip:10.0.0.2:5060\"; filters = [ \"strip\" ]; },\n"
    "  { name = \"sign\"; match = { source = [ \"10.0.0.4/32\" ]; };\n"
    "    next_hop = \"sip:10.0.0.2:5060\"; filters = [ \"sign\" ];\n"
    "    sign = { key = \"%s\"; x5u = \"https://cert.example.org/sp.pem\";\n"
    "             attest = ( { level = \"A\"; } ); }; },\n"
    "  { name = \"big\"; match = { source = [ \"10.0.0.5/32\" ]; };\n"
    "    next_hop = \"sip:10.0.0.2:5060\"; next_hop_tcp = true; },\n"
    "  { name = \"frag\"; match = { source = [ \"10.0.0.6/32\" ]; };\n"
    "    next_hop = \"sip:10.0.0.2:5060\"; next_hop_tcp = true; udp_fragment = true; },\n"
    "  { name = \"bigrr\"; match = { source = [ \"10.0.0.7/32\" ]; };\n"
    "    next_hop = \"sip:10.0.0.2:5060\"; next_hop_tcp = true; record_route = true; }\n"
    ");\n";

static int group_setup(void **unused)
{
    sw_ctx *ctx = sw_ctx_new();
    sw_key *key = NULL;
    char *pem = NULL, errs[4096];
    FILE *fp;

    assert_non_null(ctx);
    assert_int_equal(sw_key_generate(ctx, &key), SW_OK);
    assert_int_equal(sw_pubkey_from_key(ctx, key, &pub), SW_OK);
    assert_int_equal(sw_key_private_pem(ctx, key, &pem), SW_OK);
    snprintf(dir, sizeof(dir), "/tmp/test_proxy.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
    snprintf(conf_path, sizeof(conf_path), "%s/stirwire.conf", dir);
    fp = fopen(key_path, "w");
    assert_non_null(fp);
    assert_true(fputs(pem, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
    fp = fopen(conf_path, "w");
    assert_non_null(fp);
    assert_true(fprintf(fp, conf_fmt, key_path) > 0);
    assert_int_equal(fclose(fp), 0);
    if (sw_config_load(conf_path, NULL, &cfg, errs, sizeof(errs)) != 0)
        fail_msg("config does not load:\n%s", errs);
    sw_free(pem);
    sw_key_free(key);
    sw_ctx_free(ctx);

    memset(&env, 0, sizeof(env));
    env.cfg = cfg;
    snprintf(env.host, sizeof(env.host), "192.0.2.1");
    env.port = 5060;
    env.ctx = sw_ctx_new();
    assert_non_null(env.ctx);
    env.secret = 42;
    return 0;
}

static int group_teardown(void **unused)
{
    sw_config_unref(cfg);
    sw_ctx_free(env.ctx);
    sw_pubkey_free(pub);
    unlink(key_path);
    unlink(conf_path);
    rmdir(dir);
    return 0;
}

static int reset(void **unused)
{
    memset(&st, 0, sizeof(st));
    memset(out, 0, sizeof(out));
    return 0;
}

/* --- helpers ----------------------------------------------------------------------------- */

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

/* printf into fresh memory (free). */
static char *fmt(const char *f, ...)
{
    va_list ap;
    int n;
    char *s;

    va_start(ap, f);
    n = vsnprintf(NULL, 0, f, ap);
    va_end(ap);
    assert_true(n >= 0);
    s = malloc((size_t)n + 1);
    assert_non_null(s);
    va_start(ap, f);
    vsnprintf(s, (size_t)n + 1, f, ap);
    va_end(ap);
    return s;
}

/* s with the first "from" replaced by "to" (free); "from" must occur. */
static char *replace(const char *s, const char *from, const char *to)
{
    const char *p = strstr(s, from);

    if (p == NULL)
        fail_msg("\"%s\" not found in:\n%s", from, s);
    return fmt("%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
}

/* s with text inserted before the first "at" (free). */
static char *insert_before(const char *s, const char *at, const char *text)
{
    const char *p = strstr(s, at);

    if (p == NULL)
        fail_msg("\"%s\" not found in:\n%s", at, s);
    return fmt("%.*s%s%s", (int)(p - s), s, text, p);
}

static struct sockaddr_in addr(const char *ip, int port)
{
    struct sockaddr_in sin;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    assert_int_equal(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
    return sin;
}

/* One message from ip:port over transport into the proxy. */
static void handle_from(const char *msg, const char *ip, int port, int transport, struct sw_out *o)
{
    struct sockaddr_in src = addr(ip, port);

    struct sw_rx rx = {msg,         strlen(msg), (const struct sockaddr *)&src,
                       sizeof(src), transport,   (int64_t)time(NULL)};

    sw_proxy_handle(&env, &rx, out, o, &st);
}

static void handle(const char *msg, const char *ip, struct sw_out *o)
{
    handle_from(msg, ip, 5060, SW_UDP, o);
}

/* The output is exactly want. */
static void assert_out(const struct sw_out *o, const char *want)
{
    size_t n = strlen(want);

    if (o->len != n || memcmp(out, want, n) != 0)
        fail_msg("output differs (%zu bytes, want %zu):\n--- got\n%.*s--- want\n%s", o->len, n,
                 (int)o->len, out, want);
}

static void assert_dst(const struct sw_out *o, const char *ip, int port)
{
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&o->dst;
    char got[64];

    assert_int_equal(o->dstlen, sizeof(struct sockaddr_in));
    assert_int_equal(sin->sin_family, AF_INET);
    assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, got, sizeof(got)));
    assert_string_equal(got, ip);
    assert_int_equal(ntohs(sin->sin_port), port);
}

/*
 * The branch of the first Via line of the output, which must be ours:
 * "z9hG4bK-sw" and 16 lowercase hex digits. Copied into b (at least 32 bytes).
 */
static void our_branch_of(const struct sw_out *o, char *b)
{
    char *text = fmt("%.*s", (int)o->len, out);
    const char *p = strstr(text, "\r\nVia: SIP/2.0/");
    size_t i;

    assert_non_null(p);
    p = strstr(p, ";branch=");
    assert_non_null(p);
    p += strlen(";branch=");
    assert_memory_equal(p, "z9hG4bK-sw", 10);
    for (i = 10; i < 26; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            fail_msg("branch %.30s is not z9hG4bK-sw + 16 hex digits", p);
    assert_int_equal(p[26], ';');
    memcpy(b, p, 26);
    b[26] = '\0';
    free(text);
}

/* Our Via line with that branch, over UDP or TCP. */
static char *our_via(const char *branch, const char *transport)
{
    return fmt("Via: SIP/2.0/%s " US ";branch=%s;rport\r\n", transport, branch);
}

/* The tag of a reply's To line, "sw" and 8 hex digits, into tag (at least 16 bytes). */
static void reply_to_tag(const struct sw_out *o, char *tag)
{
    char *text = fmt("%.*s", (int)o->len, out);
    const char *p = strstr(text, ";tag=sw");
    size_t i;

    assert_non_null(p);
    p += strlen(";tag=");
    for (i = 2; i < 10; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            fail_msg("To tag %.12s is not sw + 8 hex digits", p);
    assert_memory_equal(p + 10, "\r\n", 2);
    memcpy(tag, p, 10);
    tag[10] = '\0';
    free(text);
}

/* --- messages ------------------------------------------------------------------------ */

#define RLINE "INVITE sip:" DEST "@carrier.example.net SIP/2.0\r\n"
#define VIA_PBX "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds\r\n"
#define FROM "From: \"Alice\" <sip:+" ORIG "@pbx.example.com>;tag=1928301774\r\n"
#define TO "To: <sip:" DEST "@carrier.example.net>\r\n"
#define CALLID "Call-ID: a84b4c76e66710@pbx.example.com\r\n"
#define CSEQ "CSeq: 314159 INVITE\r\n"
#define CONTACT "Contact: <sip:alice@10.0.0.1>\r\n"
#define NOBODY "Content-Length: 0\r\n\r\n"
#define RR_US "Record-Route: <sip:" US ";lr>\r\n"

/* A plain INVITE from the PBX. */
static const char invite[] =
    RLINE VIA_PBX "Max-Forwards: 70\r\n" FROM TO CALLID CSEQ CONTACT NOBODY;

/* An INVITE of exactly total bytes (an SDP-ish body pads it). */
static char *invite_of_size(size_t total)
{
    const char *head = RLINE VIA_PBX "Max-Forwards: 70\r\n" FROM TO CALLID CSEQ CONTACT
                                     "Content-Type: application/sdp\r\n";
    size_t fixed = 0, body = 0, i;
    char *msg, *b;
    int digits;

    /* "Content-Length: N\r\n\r\n": the number's width depends on the body's size */
    for (digits = 1; digits <= 5; digits++) {
        fixed = strlen(head) + strlen("Content-Length: \r\n\r\n") + (size_t)digits;
        if (total < fixed)
            break;
        body = total - fixed;
        if ((int)snprintf(NULL, 0, "%zu", body) == digits)
            break;
    }
    assert_true(digits <= 5 && total > fixed + 8);
    b = malloc(body + 1);
    assert_non_null(b);
    memcpy(b, "v=0\r\na=x:", 9);
    for (i = 9; i < body - 2; i++)
        b[i] = 'x';
    memcpy(b + body - 2, "\r\n", 2);
    b[body] = '\0';
    msg = fmt("%sContent-Length: %zu\r\n\r\n%s", head, body, b);
    free(b);
    assert_int_equal(strlen(msg), total);
    return msg;
}

/* msg with the PBX's top Via sent from ip instead of 10.0.0.1 (free). */
static char *via_host(const char *msg, const char *ip)
{
    char *via = fmt("Via: SIP/2.0/UDP %s:5060;", ip);
    char *s = replace(msg, "Via: SIP/2.0/UDP 10.0.0.1:5060;", via);

    free(via);
    return s;
}

/* --- forwarding requests: transparency ------------------------------------------------- */

/* A plain INVITE: our Via and Record-Route on top, Max-Forwards 69, nothing else changed. */
static void test_invite_forwarded(void **unused)
{
    struct sw_out o;
    char branch[32], *via, *want;

    handle(invite, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    assert_int_equal(o.transport, SW_UDP);
    assert_dst(&o, "10.0.0.2", 5060);
    assert_non_null(o.trunk);
    assert_string_equal(o.trunk->name, "pbx");
    our_branch_of(&o, branch);
    via = our_via(branch, "UDP");
    want = fmt(RLINE "%s" RR_US VIA_PBX "Max-Forwards: 69\r\n" FROM TO CALLID CSEQ CONTACT NOBODY,
               via);
    assert_out(&o, want);
    assert_int_equal(st.received, 1);
    assert_int_equal(st.requests, 1);
    assert_int_equal(st.forwarded_requests, 1);
    free(via);
    free(want);
}

/*
 * Compact names, odd case, comma lists (a two-value Via line among them), unknown headers,
 * odd white space and a body: all carried byte for byte.
 */
static void test_invite_transparent(void **unused)
{
    static const char body[] = "v=0\r\n"
                               "o=alice 2890844526 2890844526 IN IP4 10.0.0.1\r\n"
                               "s=-\r\n"
                               "c=IN IP4 10.0.0.1\r\n"
                               "t=0 0\r\n"
                               "m=audio 49170 RTP/AVP 0 8\r\n";
    struct sw_out o;
    char branch[32], *in, *via, *top, *tmp, *want;

    in = fmt(RLINE "v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc123,SIP/2.0/UDP 10.0.0.7;"
                   "branch=z9hG4bKold\r\n"
                   "mAx-fOrWaRdS: 70\r\n"
                   "f: \"Alice\" <sip:+" ORIG "@pbx.example.com>;tag=1928301774\r\n"
                   "t: <sip:" DEST "@carrier.example.net>\r\n"
                   "i: a84b4c76e66710@pbx.example.com\r\n"
                   "cseq: 314159 INVITE\r\n"
                   "Allow: INVITE, ACK, CANCEL,BYE , OPTIONS\r\n"
                   "Supported: timer,100rel\r\n"
                   "P-asserted-identity: <sip:+" ORIG "@pbx.example.com>\r\n"
                   "X-Custom:   spaced   value\r\n"
                   "m: <sip:alice@10.0.0.1>\r\n"
                   "c: application/sdp\r\n"
                   "l: %zu\r\n"
                   "\r\n%s",
             strlen(body), body);
    handle(in, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    our_branch_of(&o, branch);
    via = our_via(branch, "UDP");
    top = fmt("%s" RR_US, via);
    tmp = replace(in, "mAx-fOrWaRdS: 70\r\n", "mAx-fOrWaRdS: 69\r\n");
    want = insert_before(tmp, "v: SIP/2.0/UDP 10.0.0.1", top);
    assert_out(&o, want);
    free(in);
    free(via);
    free(top);
    free(tmp);
    free(want);
}

/* An INVITE that has Record-Route lines already: ours goes on top of them. */
static void test_record_route_above_existing(void **unused)
{
    struct sw_out o;
    char branch[32], *in, *via, *want;

    in = fmt(RLINE VIA_PBX "Max-Forwards: 70\r\n"
                           "Record-Route: <sip:10.0.0.1;lr>\r\n" FROM TO CALLID CSEQ NOBODY);
    handle(in, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    our_branch_of(&o, branch);
    via = our_via(branch, "UDP");
    want = fmt(RLINE "%s" VIA_PBX "Max-Forwards: 69\r\n" RR_US
                     "Record-Route: <sip:10.0.0.1;lr>\r\n" FROM TO CALLID CSEQ NOBODY,
               via);
    assert_out(&o, want);
    free(in);
    free(via);
    free(want);
}

/* A trunk without record_route adds no Record-Route. */
static void test_no_record_route(void **unused)
{
    struct sw_out o;
    char branch[32], *via, *want, *in;

    in = replace(invite, "10.0.0.1:5060;branch", "10.0.0.2:5060;branch");
    handle(in, "10.0.0.2", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    assert_string_equal(o.trunk->name, "carrier");
    assert_dst(&o, "10.0.0.1", 5060);
    our_branch_of(&o, branch);
    via = our_via(branch, "UDP");
    want = fmt(RLINE "%s"
                     "Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK776asdhds\r\n"
                     "Max-Forwards: 69\r\n" FROM TO CALLID CSEQ CONTACT NOBODY,
               via);
    assert_out(&o, want);
    free(in);
    free(via);
    free(want);
}

/* --- Max-Forwards ---------------------------------------------------------------------- */

static void test_max_forwards_missing(void **unused)
{
    static const char in[] = RLINE VIA_PBX FROM TO CALLID CSEQ CONTACT NOBODY;
    struct sw_out o;
    char branch[32], *via, *want;

    handle(in, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    our_branch_of(&o, branch);
    via = our_via(branch, "UDP");
    /* inserted at the end of the headers, so that our Via stays the first line */
    want = fmt(RLINE "%s" RR_US VIA_PBX FROM TO CALLID CSEQ CONTACT
                     "Content-Length: 0\r\nMax-Forwards: 70\r\n\r\n",
               via);
    assert_out(&o, want);
    free(via);
    free(want);
}

static void test_max_forwards_zero_483(void **unused)
{
    struct sw_out o;
    char tag[16], *in, *want;

    in = replace(invite, "Max-Forwards: 70", "Max-Forwards: 0");
    handle_from(in, "10.0.0.1", 5077, SW_UDP, &o);
    assert_int_equal(o.act, SW_ACT_REPLY);
    assert_dst(&o, "10.0.0.1", 5077);
    assert_int_equal(o.transport, SW_UDP);
    reply_to_tag(&o, tag);
    want = fmt("SIP/2.0 483 Too Many Hops\r\n" VIA_PBX FROM "To: <sip:" DEST
               "@carrier.example.net>;tag=%s\r\n" CALLID CSEQ
               "Server: stirwired\r\nContent-Length: 0\r\n\r\n",
               tag);
    assert_out(&o, want);
    assert_int_equal(st.replied_483, 1);
    assert_int_equal(st.replies, 1);
    assert_int_equal(st.forwarded_requests, 0);
    free(in);
    free(want);
}

/* A retransmitted request gets the same To tag in its reply. */
static void test_reply_tag_stable(void **unused)
{
    struct sw_out o;
    char tag1[16], tag2[16], *in;

    in = replace(invite, "Max-Forwards: 70", "Max-Forwards: 0");
    handle(in, "10.0.0.1", &o);
    reply_to_tag(&o, tag1);
    handle(in, "10.0.0.1", &o);
    reply_to_tag(&o, tag2);
    assert_string_equal(tag1, tag2);
    free(in);
}

/*
 * Two calls to the same number, refused the same way, get different To tags (RFC 3261
 * section 19.3: tags must be globally unique). The tag is a hash of the Call-ID line and
 * the To line, but the Call-ID only counts when it comes before To; in the usual order
 * (From, To, Call-ID) every call to a number gets one tag. EXPECTED TO FAIL against the
 * current proxy.c.
 */
static void test_reply_tag_differs_per_call(void **unused)
{
    struct sw_out o;
    char tag1[16], tag2[16], *in, *other;

    in = replace(invite, "Max-Forwards: 70", "Max-Forwards: 0");
    other = replace(in, "a84b4c76e66710@", "a84b4c76e66711@");
    handle(in, "10.0.0.1", &o);
    reply_to_tag(&o, tag1);
    handle(other, "10.0.0.1", &o);
    reply_to_tag(&o, tag2);
    assert_string_not_equal(tag1, tag2);
    free(in);
    free(other);
}

static void test_max_forwards_not_a_number_400(void **unused)
{
    struct sw_out o;
    char tag[16], *in, *want;

    in = replace(invite, "Max-Forwards: 70", "Max-Forwards: abc");
    handle(in, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_REPLY);
    assert_dst(&o, "10.0.0.1", 5060);
    reply_to_tag(&o, tag);
    want = fmt("SIP/2.0 400 Bad Max-Forwards\r\n" VIA_PBX FROM "To: <sip:" DEST
               "@carrier.example.net>;tag=%s\r\n" CALLID CSEQ
               "Server: stirwired\r\nContent-Length: 0\r\n\r\n",
               tag);
    assert_out(&o, want);
    assert_int_equal(st.replied_400, 1);
    free(in);
    free(want);
}

/* --- deterministic branch -------------------------------------------------------------- */

#define ACK_NON2XX                                                                                 \
    "ACK sip:" DEST "@carrier.example.net SIP/2.0\r\n" VIA_PBX "Max-Forwards: 70\r\n" FROM         \
    "To: <sip:" DEST "@carrier.example.net>;tag=8321234356\r\n" CALLID                             \
    "CSeq: 314159 ACK\r\n" NOBODY
#define CANCEL                                                                                     \
    "CANCEL sip:" DEST "@carrier.example.net SIP/2.0\r\n" VIA_PBX                                  \
    "Max-Forwards: 70\r\n" FROM TO CALLID "CSeq: 314159 CANCEL\r\n" NOBODY

static void test_cancel_same_branch(void **unused)
{
    struct sw_out o;
    char b_invite[32], b_cancel[32], *via, *want;

    handle(invite, "10.0.0.1", &o);
    our_branch_of(&o, b_invite);
    handle(CANCEL, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    assert_dst(&o, "10.0.0.2", 5060);
    our_branch_of(&o, b_cancel);
    assert_string_equal(b_cancel, b_invite);
    /* not dialog-creating: no Record-Route */
    via = our_via(b_invite, "UDP");
    want = fmt("CANCEL sip:" DEST "@carrier.example.net SIP/2.0\r\n%s" VIA_PBX
               "Max-Forwards: 69\r\n" FROM TO CALLID "CSeq: 314159 CANCEL\r\n" NOBODY,
               via);
    assert_out(&o, want);
    free(via);
    free(want);
}

static void test_ack_non2xx_same_branch(void **unused)
{
    struct sw_out o;
    char b_invite[32], b_ack[32];

    handle(invite, "10.0.0.1", &o);
    our_branch_of(&o, b_invite);
    handle(ACK_NON2XX, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    assert_dst(&o, "10.0.0.2", 5060);
    our_branch_of(&o, b_ack);
    assert_string_equal(b_ack, b_invite);
}

static void test_other_invite_other_branch(void **unused)
{
    struct sw_out o;
    char b1[32], b2[32], *in;

    handle(invite, "10.0.0.1", &o);
    our_branch_of(&o, b1);
    in = replace(invite, "z9hG4bK776asdhds", "z9hG4bK776asdhdt");
    handle(in, "10.0.0.1", &o);
    our_branch_of(&o, b2);
    assert_string_not_equal(b1, b2);
    free(in);
}

/* A client without a z9hG4bK branch: retransmissions get one branch, other calls another. */
static void test_old_client_branch_stable(void **unused)
{
    struct sw_out o;
    char b1[32], b2[32], b3[32], *in, *other;

    in = replace(invite, ";branch=z9hG4bK776asdhds", ";branch=776asdhds");
    handle(in, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    our_branch_of(&o, b1);
    handle(in, "10.0.0.1", &o);
    our_branch_of(&o, b2);
    assert_string_equal(b1, b2);
    other = replace(in, "a84b4c76e66710@", "a84b4c76e66711@");
    handle(other, "10.0.0.1", &o);
    our_branch_of(&o, b3);
    assert_string_not_equal(b1, b3);
    free(in);
    free(other);
}

/* --- loops ----------------------------------------------------------------------------- */

/* Forwards in from ip and returns the forwarded bytes (free); the stats are reset after. */
static char *forwarded(const char *in, const char *ip)
{
    struct sw_out o;
    char *fwd;

    handle(in, ip, &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    fwd = fmt("%.*s", (int)o.len, out);
    reset(NULL);
    return fwd;
}

/*
 * The next hop sends our forwarded INVITE straight back, unchanged (a next_hop that points
 * back at us, a hairpin): our Via is on top and its branch is the one we compute from the
 * Via below it, so it is a loop (RFC 3261 section 16.3 item 4), answered with 482.
 */
static void test_loop_reflected_482(void **unused)
{
    struct sw_out o;
    char branch[32], tag[16], *fwd, *via, *want;

    fwd = forwarded(invite, "10.0.0.1");
    handle(fwd, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_REPLY);
    assert_dst(&o, "10.0.0.1", 5060);
    reply_to_tag(&o, tag);
    our_branch_of(&o, branch);
    via = our_via(branch, "UDP");
    want = fmt("SIP/2.0 482 Loop Detected\r\n%s" VIA_PBX FROM "To: <sip:" DEST
               "@carrier.example.net>;tag=%s\r\n" CALLID CSEQ
               "Server: stirwired\r\nContent-Length: 0\r\n\r\n",
               via, tag);
    assert_out(&o, want);
    assert_int_equal(st.replied_482, 1);
    assert_int_equal(st.forwarded_requests, 0);
    free(fwd);
    free(via);
    free(want);
}

/* The next hop is a proxy that routes the request back to us: its Via on top of ours. */
static void test_loop_bounced_by_next_hop_482(void **unused)
{
    struct sw_out o;
    char *fwd, *tmp, *in;

    fwd = forwarded(invite, "10.0.0.1");
    tmp = insert_before(fwd, "Via: SIP/2.0/UDP " US,
                        "Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKcarrier1\r\n");
    in = replace(tmp, "Max-Forwards: 69", "Max-Forwards: 68");
    handle(in, "10.0.0.2", &o);
    assert_int_equal(o.act, SW_ACT_REPLY);
    assert_dst(&o, "10.0.0.2", 5060);
    assert_memory_equal(out, "SIP/2.0 482 Loop Detected\r\n", 27);
    assert_int_equal(st.replied_482, 1);
    free(fwd);
    free(tmp);
    free(in);
}

/* A loop that comes back as an ACK is dropped: nobody answers an ACK. */
static void test_loop_ack_dropped(void **unused)
{
    struct sw_out o;
    char *fwd;

    fwd = forwarded(ACK_NON2XX, "10.0.0.1");
    handle(fwd, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_DROP);
    assert_int_equal(st.replies, 0);
    free(fwd);
}

/*
 * A spiral is not a loop: the same request back with another Request-URI (retargeted by the
 * next hop) is forwarded again.
 */
static void test_spiral_forwarded(void **unused)
{
    struct sw_out o;
    char *fwd, *in;

    fwd = forwarded(invite, "10.0.0.1");
    in = replace(fwd, "INVITE sip:" DEST "@carrier.example.net", "INVITE sip:" DEST "@10.0.0.2");
    handle(in, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    assert_int_equal(st.replied_482, 0);
    free(fwd);
    free(in);
}

/*
 * A client without a z9hG4bK branch, behind NAT: its Via gets ";received=" (and ";rport=")
 * when we forward, and our branch was hashed from the Via as it arrived. When the request
 * comes back, the Via below ours is the edited one, so the branch recomputed from it no
 * longer matches and the loop is missed. EXPECTED TO FAIL against the current proxy.c.
 */
static void test_loop_old_client_behind_nat_482(void **unused)
{
    struct sw_out o;
    char *in, *fwd;

    in = replace(invite, VIA_PBX, "Via: SIP/2.0/UDP 192.168.1.10:5060;branch=776asdhds\r\n");
    fwd = forwarded(in, "10.0.0.1");
    assert_non_null(strstr(fwd, ";branch=776asdhds;received=10.0.0.1\r\n"));
    handle(fwd, "10.0.0.1", &o);
    if (o.act != SW_ACT_REPLY)
        fail_msg("loop of an old client's request not detected (act %d): %s", (int)o.act, o.why);
    assert_memory_equal(out, "SIP/2.0 482 Loop Detected\r\n", 27);
    free(in);
    free(fwd);
}

/* The same client without NAT: its Via comes back as it was, and the loop is found. */
static void test_loop_old_client_482(void **unused)
{
    struct sw_out o;
    char *in, *fwd;

    in = replace(invite, VIA_PBX, "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=776asdhds\r\n");
    fwd = forwarded(in, "10.0.0.1");
    handle(fwd, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_REPLY);
    assert_memory_equal(out, "SIP/2.0 482 Loop Detected\r\n", 27);
    free(in);
    free(fwd);
}

/* --- received / rport ------------------------------------------------------------------ */

static void test_rport_received(void **unused)
{
    struct sw_out o;
    char branch[32], *in, *via, *want;

    in = replace(invite, VIA_PBX,
                 "Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK776asdhds;rport\r\n");
    handle_from(in, "10.0.0.1", 5099, SW_UDP, &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    our_branch_of(&o, branch);
    via = our_via(branch, "UDP");
    want = fmt(RLINE "%s" RR_US
                     "Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK776asdhds;rport=5099;"
                     "received=10.0.0.1\r\n"
                     "Max-Forwards: 69\r\n" FROM TO CALLID CSEQ CONTACT NOBODY,
               via);
    assert_out(&o, want);
    free(in);
    free(via);
    free(want);
}

/* rport asked for, host is the source address: rport= only, no received. */
static void test_rport_only(void **unused)
{
    struct sw_out o;
    char branch[32], *in, *via, *want;

    in = replace(invite, VIA_PBX,
                 "Via: SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK776asdhds\r\n");
    handle_from(in, "10.0.0.1", 5099, SW_UDP, &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    our_branch_of(&o, branch);
    via = our_via(branch, "UDP");
    want =
        fmt(RLINE "%s" RR_US "Via: SIP/2.0/UDP 10.0.0.1:5060;rport=5099;branch=z9hG4bK776asdhds\r\n"
                  "Max-Forwards: 69\r\n" FROM TO CALLID CSEQ CONTACT NOBODY,
            via);
    assert_out(&o, want);
    free(in);
    free(via);
    free(want);
}

/*
 * Over TCP the source port goes into rport although the client did not ask (RFC 3261
 * 18.2.2: the response finds the connection the request came in on).
 */
static void test_tcp_request_gets_rport(void **unused)
{
    static const char want[] =
        "\r\nVia: SIP/2.0/TCP 192.168.1.10:5060;branch=z9hG4bK776asdhds;rport=40001;"
        "received=10.0.0.1\r\nMax-Forwards: 69\r\n";
    struct sw_out o;
    char *in;

    in = replace(invite, VIA_PBX, "Via: SIP/2.0/TCP 192.168.1.10:5060;branch=z9hG4bK776asdhds\r\n");
    handle_from(in, "10.0.0.1", 40001, SW_TCP, &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    /* (the Record-Route above it is not this test's business) */
    out[o.len] = '\0';
    if (strstr(out, want) == NULL)
        fail_msg("no \"%s\" in:\n%.*s", want, (int)o.len, out);
    free(in);
}

/* --- Route ----------------------------------------------------------------------------- */

static void test_route_ours_removed(void **unused)
{
    struct sw_out o;
    char branch[32], *in, *via, *want;

    in = replace(invite, "Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nRoute: <sip:" US ";lr>\r\n");
    handle(in, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    our_branch_of(&o, branch);
    via = our_via(branch, "UDP");
    want = fmt(RLINE "%s" RR_US VIA_PBX "Max-Forwards: 69\r\n" FROM TO CALLID CSEQ CONTACT NOBODY,
               via);
    assert_out(&o, want);
    free(in);
    free(via);
    free(want);
}

static void test_route_ours_removed_from_list(void **unused)
{
    struct sw_out o;
    char branch[32], *in, *via, *want;

    in = replace(invite, "Max-Forwards: 70\r\n",
                 "Max-Forwards: 70\r\nRoute: <sip:" US ";lr>, <sip:10.0.0.2;lr>\r\n");
    handle(in, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    our_branch_of(&o, branch);
    via = our_via(branch, "UDP");
    want = fmt(RLINE "%s" RR_US VIA_PBX "Max-Forwards: 69\r\n"
                     "Route: <sip:10.0.0.2;lr>\r\n" FROM TO CALLID CSEQ CONTACT NOBODY,
               via);
    assert_out(&o, want);
    free(in);
    free(via);
    free(want);
}

static void test_route_other_kept(void **unused)
{
    struct sw_out o;
    char branch[32], *in, *via, *want;

    in = replace(invite, "Max-Forwards: 70\r\n",
                 "Max-Forwards: 70\r\nRoute: <sip:10.0.0.2:5060;lr>\r\n");
    handle(in, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    our_branch_of(&o, branch);
    via = our_via(branch, "UDP");
    want = fmt(RLINE "%s" RR_US VIA_PBX "Max-Forwards: 69\r\n"
                     "Route: <sip:10.0.0.2:5060;lr>\r\n" FROM TO CALLID CSEQ CONTACT NOBODY,
               via);
    assert_out(&o, want);
    free(in);
    free(via);
    free(want);
}

/* --- responses ------------------------------------------------------------------------- */

#define OUR_VIA_LINE "Via: SIP/2.0/UDP " US ";branch=z9hG4bK-sw0123456789abcdef;rport=5060\r\n"
#define RESP_TAIL                                                                                  \
    FROM "To: <sip:" DEST "@carrier.example.net>;tag=8321234356\r\n" CALLID CSEQ                   \
         "Contact: <sip:bob@10.0.0.2>\r\n" NOBODY

static void test_response_forwarded_by_received_rport(void **unused)
{
    static const char next[] = "Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK776asdhds;"
                               "rport=5099;received=10.0.0.1\r\n";
    struct sw_out o;
    char *in, *want;

    in = fmt("SIP/2.0 200 OK\r\n" OUR_VIA_LINE "%s" RR_US RESP_TAIL, next);
    handle(in, "10.0.0.2", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    assert_dst(&o, "10.0.0.1", 5099);
    assert_int_equal(o.transport, SW_UDP);
    want = fmt("SIP/2.0 200 OK\r\n%s" RR_US RESP_TAIL, next);
    assert_out(&o, want);
    assert_int_equal(st.responses, 1);
    assert_int_equal(st.forwarded_responses, 1);
    free(in);
    free(want);
}

/*
 * A TCP Via with rport: the connection received:rport first, and the sent-by port to
 * connect to when that connection is gone.
 */
static void test_response_to_tcp_names_connection_and_sent_by(void **unused)
{
    static const char next[] =
        "Via: SIP/2.0/TCP 192.168.1.10:5061;branch=z9hG4bKx;rport=40001;received=10.0.0.1\r\n";
    struct sw_out o;
    char *in;

    in = fmt("SIP/2.0 180 Ringing\r\n" OUR_VIA_LINE "%s" RESP_TAIL, next);
    handle(in, "10.0.0.2", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    assert_dst(&o, "10.0.0.1", 40001);
    assert_int_equal(o.transport, SW_TCP);
    assert_int_equal(o.connect_port, 5061);
    free(in);
}

/* No received / rport below ours: the sent-by, and the next Via's transport. */
static void test_response_forwarded_by_sent_by_tcp(void **unused)
{
    static const char next[] = "Via: SIP/2.0/TCP 10.0.0.1:5061;branch=z9hG4bKx\r\n";
    struct sw_out o;
    char *in, *want;

    in = fmt("SIP/2.0 180 Ringing\r\n" OUR_VIA_LINE "%s" RESP_TAIL, next);
    handle(in, "10.0.0.2", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    assert_dst(&o, "10.0.0.1", 5061);
    assert_int_equal(o.transport, SW_TCP);
    want = fmt("SIP/2.0 180 Ringing\r\n%s" RESP_TAIL, next);
    assert_out(&o, want);
    free(in);
    free(want);
}

static void test_response_via_shared_line(void **unused)
{
    static const char in[] = "SIP/2.0 200 OK\r\n"
                             "Via: SIP/2.0/UDP " US ";branch=z9hG4bK-sw1,SIP/2.0/UDP "
                             "10.0.0.1:5061;branch=z9hG4bKx\r\n" RESP_TAIL;
    static const char want[] = "SIP/2.0 200 OK\r\n"
                               "Via: SIP/2.0/UDP 10.0.0.1:5061;branch=z9hG4bKx\r\n" RESP_TAIL;
    struct sw_out o;

    handle(in, "10.0.0.2", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    assert_dst(&o, "10.0.0.1", 5061);
    assert_int_equal(o.transport, SW_UDP);
    assert_out(&o, want);
}

static void test_response_not_ours_dropped(void **unused)
{
    static const char in[] = "SIP/2.0 200 OK\r\n"
                             "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-sw0123456789abcdef\r\n"
                             "Via: SIP/2.0/UDP 10.0.0.1:5061;branch=z9hG4bKx\r\n" RESP_TAIL;
    struct sw_out o;

    handle(in, "10.0.0.2", &o);
    assert_int_equal(o.act, SW_ACT_DROP);
    assert_int_equal(st.dropped_not_ours, 1);
    assert_int_equal(st.forwarded_responses, 0);
    assert_true(o.why[0] != '\0');
}

/* Our address, but a branch we never make. */
static void test_response_foreign_branch_dropped(void **unused)
{
    static const char in[] = "SIP/2.0 200 OK\r\n"
                             "Via: SIP/2.0/UDP " US ";branch=z9hG4bKsomeoneelse\r\n"
                             "Via: SIP/2.0/UDP 10.0.0.1:5061;branch=z9hG4bKx\r\n" RESP_TAIL;
    struct sw_out o;

    handle(in, "10.0.0.2", &o);
    assert_int_equal(o.act, SW_ACT_DROP);
    assert_int_equal(st.dropped_not_ours, 1);
}

static void test_response_malformed_dropped(void **unused)
{
    static const char in[] =
        "SIP/2.0 200 OK\r\n" OUR_VIA_LINE "Via: SIP/2.0/UDP 10.0.0.1:5061;branch=z9hG4bKx\r\n" FROM
        "To: <sip:" DEST "@carrier.example.net>;tag=8321234356\r\n" CSEQ NOBODY;
    struct sw_out o;

    handle(in, "10.0.0.2", &o);
    assert_int_equal(o.act, SW_ACT_DROP);
    assert_int_equal(st.dropped_malformed, 1);
    assert_int_equal(st.replies, 0);
}

/* --- unknown sources and malformed input ----------------------------------------------- */

static void test_unknown_source_403(void **unused)
{
    struct sw_out o;
    char tag[16], *want;

    handle(invite, "10.9.9.9", &o);
    assert_int_equal(o.act, SW_ACT_REPLY);
    assert_null(o.trunk);
    assert_dst(&o, "10.9.9.9", 5060);
    reply_to_tag(&o, tag);
    want = fmt("SIP/2.0 403 Forbidden\r\n" VIA_PBX FROM "To: <sip:" DEST
               "@carrier.example.net>;tag=%s\r\n" CALLID CSEQ
               "Server: stirwired\r\nContent-Length: 0\r\n\r\n",
               tag);
    assert_out(&o, want);
    assert_int_equal(st.dropped_no_trunk, 1);
    assert_int_equal(st.replied_403, 1);
    free(want);
}

static void test_unknown_source_ack_dropped(void **unused)
{
    struct sw_out o;

    handle(ACK_NON2XX, "10.9.9.9", &o);
    assert_int_equal(o.act, SW_ACT_DROP);
    assert_int_equal(st.dropped_no_trunk, 1);
    assert_int_equal(st.replies, 0);
    assert_int_equal(st.replied_403, 0);
}

static void test_missing_call_id_400(void **unused)
{
    static const char in[] = RLINE VIA_PBX "Max-Forwards: 70\r\n" FROM TO CSEQ CONTACT NOBODY;
    struct sw_out o;
    char tag[16], *want;

    handle(in, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_REPLY);
    assert_dst(&o, "10.0.0.1", 5060);
    reply_to_tag(&o, tag);
    want = fmt("SIP/2.0 400 Bad Request\r\n" VIA_PBX FROM "To: <sip:" DEST
               "@carrier.example.net>;tag=%s\r\n" CSEQ
               "Server: stirwired\r\nContent-Length: 0\r\n\r\n",
               tag);
    assert_out(&o, want);
    assert_int_equal(st.replied_400, 1);
    free(want);
}

static void test_garbage_dropped(void **unused)
{
    static const char in[] = "\x01\x02\xff garbage, not SIP at all\r\n\r\n";
    struct sw_out o;

    handle(in, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_DROP);
    assert_int_equal(st.dropped_malformed, 1);
    assert_int_equal(st.replies, 0);
}

/* --- transport for size ---------------------------------------------------------------- */

static void test_large_invite_goes_tcp(void **unused)
{
    struct sw_out o;
    char branch[32], *in, *via, *tmp, *want;

    tmp = invite_of_size(1400);
    in = via_host(tmp, "10.0.0.5");
    free(tmp);
    handle(in, "10.0.0.5", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    assert_int_equal(o.transport, SW_TCP);
    assert_dst(&o, "10.0.0.2", 5060);
    our_branch_of(&o, branch);
    via = our_via(branch, "TCP");
    tmp = replace(in, "Max-Forwards: 70", "Max-Forwards: 69");
    want = insert_before(tmp, "Via: SIP/2.0/UDP 10.0.0.5", via);
    assert_out(&o, want);
    assert_int_equal(st.sent_tcp_for_size, 1);
    free(in);
    free(via);
    free(tmp);
    free(want);
}

static void test_small_invite_stays_udp(void **unused)
{
    struct sw_out o;
    char branch[32], *in, *via, *tmp, *want;

    in = via_host(invite, "10.0.0.5");
    handle(in, "10.0.0.5", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    assert_int_equal(o.transport, SW_UDP);
    our_branch_of(&o, branch);
    via = our_via(branch, "UDP");
    tmp = replace(in, "Max-Forwards: 70", "Max-Forwards: 69");
    want = insert_before(tmp, "Via: SIP/2.0/UDP 10.0.0.5", via);
    assert_out(&o, want);
    assert_int_equal(st.sent_tcp_for_size, 0);
    free(in);
    free(via);
    free(tmp);
    free(want);
}

static void test_large_invite_udp_fragment(void **unused)
{
    struct sw_out o;
    char branch[32], *in;

    in = invite_of_size(1400);
    handle(in, "10.0.0.6", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    assert_int_equal(o.transport, SW_UDP);
    our_branch_of(&o, branch);
    assert_memory_equal(out + strlen(RLINE), "Via: SIP/2.0/UDP ", 17);
    assert_int_equal(st.sent_tcp_for_size, 0);
    free(in);
}

/* --- filters --------------------------------------------------------------------------- */

static void test_sign_trunk_signs(void **unused)
{
    static const char in[] = RLINE "Via: SIP/2.0/UDP 10.0.0.4:5060;branch=z9hG4bK776asdhds\r\n"
                                   "Max-Forwards: 70\r\n"
                                   "From: <sip:+" ORIG "@pbx>;tag=1928301774\r\n"
                                   "To: <sip:" DEST "@carrier>\r\n" CALLID CSEQ CONTACT NOBODY;
    struct sip_msg m;
    const struct sip_hdr *h;
    struct sw_out o;
    char err[160];
    sw_ctx *ctx;
    sw_err rc;

    handle(in, "10.0.0.4", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    assert_string_equal(o.trunk->name, "sign");
    /* counted by the sign filter itself, by attestation, not read from its note */
    assert_int_equal(sw_stats_filter(&st, "sign", "signed_a") +
                         sw_stats_filter(&st, "sign", "signed_b") +
                         sw_stats_filter(&st, "sign", "signed_c"),
                     1);
    if (sip_parse(&m, out, o.len, err, sizeof(err)) != 0)
        fail_msg("forwarded INVITE does not parse: %s", err);
    h = sip_hdr_find(&m, SH_IDENTITY, 0);
    assert_non_null(h);
    assert_null(sip_hdr_find(&m, SH_IDENTITY, 1));
    ctx = sw_ctx_new();
    assert_non_null(ctx);
    rc = sw_verify_header(ctx, out + h->value_off, h->value_len, pub, ORIG, DEST);
    if (rc != SW_OK)
        fail_msg("Identity rejected: %s (%s)", sw_strerror(rc), sw_errmsg(ctx));
    sw_ctx_free(ctx);
}

static void test_strip_trunk_strips(void **unused)
{
    static const char identity[] =
        "Identity: eyJhbGciOiJFUzI1NiJ9.eyJhdHRlc3QiOiJBIn0.c2ln;info=<https://cert.example.org/"
        "sp.pem>;alg=ES256;ppt=shaken\r\n";
    static const char compact[] = "y: eyJhbGciOiJFUzI1NiJ9.e30.c2ln;info=<https://x.example/c>\r\n";
    struct sw_out o;
    char branch[32], *in, *via, *want;

    in = fmt(RLINE "Via: SIP/2.0/UDP 10.0.0.3:5060;branch=z9hG4bK776asdhds\r\n"
                   "Max-Forwards: 70\r\n" FROM TO "%s" CALLID CSEQ "%s" CONTACT NOBODY,
             identity, compact);
    handle(in, "10.0.0.3", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    assert_string_equal(o.trunk->name, "strip");
    our_branch_of(&o, branch);
    via = our_via(branch, "UDP");
    want = fmt(RLINE "%s"
                     "Via: SIP/2.0/UDP 10.0.0.3:5060;branch=z9hG4bK776asdhds\r\n"
                     "Max-Forwards: 69\r\n" FROM TO CALLID CSEQ CONTACT NOBODY,
               via);
    assert_out(&o, want);
    free(in);
    free(via);
    free(want);
}

/* --- double Record-Route (RFC 5658) ------------------------------------------------------ */

#define RR_US_UDP "Record-Route: <sip:" US ";lr;transport=udp>\r\n"
#define RR_US_TCP "Record-Route: <sip:" US ";lr;transport=tcp>\r\n"

/* TCP in, UDP out: two entries, the one facing the next hop (UDP) first. */
static void test_double_record_route_tcp_in_udp_out(void **unused)
{
    struct sw_out o;
    char branch[32], *via, *want;

    handle_from(invite, "10.0.0.1", 5060, SW_TCP, &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    assert_int_equal(o.transport, SW_UDP);
    our_branch_of(&o, branch);
    via = our_via(branch, "UDP");
    want = fmt(RLINE "%s" RR_US_UDP RR_US_TCP VIA_PBX
                     "Max-Forwards: 69\r\n" FROM TO CALLID CSEQ CONTACT NOBODY,
               via);
    assert_out(&o, want);
    free(via);
    free(want);
}

/* UDP in, TCP out because of the size: two entries, TCP (the next hop's side) first. */
static void test_double_record_route_size_switch(void **unused)
{
    struct sw_out o;
    char branch[32], *in, *via, *tmp, *want;

    tmp = invite_of_size(1400);
    in = via_host(tmp, "10.0.0.7");
    free(tmp);
    handle(in, "10.0.0.7", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    assert_int_equal(o.transport, SW_TCP);
    our_branch_of(&o, branch);
    tmp = our_via(branch, "TCP");
    via = fmt("%s" RR_US_TCP RR_US_UDP, tmp);
    free(tmp);
    tmp = replace(in, "Max-Forwards: 70", "Max-Forwards: 69");
    want = insert_before(tmp, "Via: SIP/2.0/UDP 10.0.0.7", via);
    assert_out(&o, want);
    assert_int_equal(st.sent_tcp_for_size, 1);
    free(in);
    free(via);
    free(tmp);
    free(want);
}

/* Same transport on both sides: still the one entry of before. */
static void test_single_record_route_tcp_both_sides(void **unused)
{
    struct sw_out o;
    char *tmp, *in;

    tmp = invite_of_size(1400);
    in = via_host(tmp, "10.0.0.7");
    free(tmp);
    handle_from(in, "10.0.0.7", 5060, SW_TCP, &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    assert_int_equal(o.transport, SW_TCP);
    assert_non_null(memmem(out, o.len, RR_US_TCP "Via:", strlen(RR_US_TCP "Via:")));
    assert_null(memmem(out, o.len, "transport=udp", 13));
    free(in);
}

/* An in-dialog request with our two entries, on two lines: both go, the rest stays. */
static void test_route_double_ours_removed(void **unused)
{
    struct sw_out o;
    char branch[32], *in, *via, *want;

    in = replace(invite, "Max-Forwards: 70\r\n",
                 "Max-Forwards: 70\r\nRoute: <sip:" US ";lr;transport=udp>\r\n"
                 "Route: <sip:" US ";lr;transport=tcp>\r\nRoute: <sip:10.0.0.2;lr>\r\n");
    handle(in, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    our_branch_of(&o, branch);
    via = our_via(branch, "UDP");
    want = fmt(RLINE "%s" RR_US VIA_PBX "Max-Forwards: 69\r\n"
                     "Route: <sip:10.0.0.2;lr>\r\n" FROM TO CALLID CSEQ CONTACT NOBODY,
               via);
    assert_out(&o, want);
    free(in);
    free(via);
    free(want);
}

/* Our two entries on one line, alone or before another value; or split over two lines. */
static void test_route_double_ours_removed_from_lists(void **unused)
{
    static const char *const routes[][2] = {
        {"Route: <sip:" US ";lr;transport=tcp>, <sip:" US ";lr;transport=udp>\r\n", ""},
        {"Route: <sip:" US ";lr;transport=tcp>, <sip:" US ";lr;transport=udp>, "
         "<sip:10.0.0.2;lr>\r\n",
         "Route: <sip:10.0.0.2;lr>\r\n"},
        {"Route: <sip:" US ";lr;transport=tcp>\r\nRoute: <sip:" US
         ";lr;transport=udp>,<sip:10.0.0.2;lr>\r\n",
         "Route: <sip:10.0.0.2;lr>\r\n"},
        /* only the top ones: ours further down is somebody else's business */
        {"Route: <sip:10.0.0.2;lr>, <sip:" US ";lr>\r\n",
         "Route: <sip:10.0.0.2;lr>, <sip:" US ";lr>\r\n"},
    };
    struct sw_out o;
    char branch[32], *in, *via, *want, *mf;
    size_t i;

    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        mf = fmt("Max-Forwards: 70\r\n%s", routes[i][0]);
        in = replace(invite, "Max-Forwards: 70\r\n", mf);
        handle(in, "10.0.0.1", &o);
        assert_int_equal(o.act, SW_ACT_FORWARD);
        our_branch_of(&o, branch);
        via = our_via(branch, "UDP");
        want = fmt(RLINE "%s" RR_US VIA_PBX
                         "Max-Forwards: 69\r\n%s" FROM TO CALLID CSEQ CONTACT NOBODY,
                   via, routes[i][1]);
        assert_out(&o, want);
        free(mf);
        free(in);
        free(via);
        free(want);
    }
}

/* --- 513 Message Too Large ------------------------------------------------------------------ */

/* A signed 65000-byte INVITE toward a UDP-only hop fits no datagram: 513, not a send. */
static void test_too_large_for_udp_513(void **unused)
{
    struct sw_out o;
    char *tmp, *in;

    tmp = invite_of_size(65000);
    in = via_host(tmp, "10.0.0.4");
    free(tmp);
    handle(in, "10.0.0.4", &o);
    if (o.act != SW_ACT_REPLY)
        fail_msg("action %d, want a 513 reply", o.act);
    assert_memory_equal(out, "SIP/2.0 513 Message Too Large\r\n", 31);
    assert_dst(&o, "10.0.0.4", 5060);
    assert_int_equal(st.replied_513, 1);
    assert_int_equal(st.forwarded_requests, 0);
    free(in);
}

/* Unsigned, the largest INVITE that still fits one datagram after our edits goes. */
static void test_largest_udp_forwarded(void **unused)
{
    struct sw_out o;
    char branch[32], *in;
    size_t edits;

    /* our Via, Record-Route, Max-Forwards 70 -> 69 */
    in = invite_of_size(2000);
    handle(in, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    our_branch_of(&o, branch);
    edits = o.len - 2000;
    free(in);
    in = invite_of_size(65507 - edits);
    handle(in, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    assert_int_equal(o.len, 65507);
    free(in);
    in = invite_of_size(65508 - edits);
    handle(in, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_REPLY);
    assert_int_equal(st.replied_513, 1);
    free(in);
}

/* Over TCP nothing goes out larger than we ourselves accept (SIP_MAX_MSG): 513 back on TCP. */
static void test_too_large_for_tcp_513(void **unused)
{
    struct sw_out o;
    char *tmp, *in;

    tmp = invite_of_size(65500);
    in = via_host(tmp, "10.0.0.5");
    free(tmp);
    handle_from(in, "10.0.0.5", 5060, SW_TCP, &o);
    if (o.act != SW_ACT_REPLY)
        fail_msg("action %d (%zu bytes), want a 513 reply", o.act, o.len);
    assert_memory_equal(out, "SIP/2.0 513 Message Too Large\r\n", 31);
    assert_int_equal(o.transport, SW_TCP);
    assert_int_equal(st.replied_513, 1);
    free(in);
}

/* A trunk that prefers fragmented UDP still takes TCP past what a datagram holds. */
static void test_udp_fragment_past_datagram_goes_tcp(void **unused)
{
    struct sw_out o;
    char *tmp, *in;

    tmp = invite_of_size(65450);
    in = via_host(tmp, "10.0.0.6");
    free(tmp);
    handle(in, "10.0.0.6", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    assert_int_equal(o.transport, SW_TCP);
    assert_true(o.len > 65507 && o.len <= SIP_MAX_MSG);
    assert_int_equal(st.sent_tcp_for_size, 1);
    free(in);
}

/* --- RFC 3261 16.3 answers ------------------------------------------------------------------ */

/* Proxy-Require: 420 with every option listed in Unsupported; an ACK is never answered. */
static void test_proxy_require_420(void **unused)
{
    struct sw_out o;
    char *in, *tmp, *ack;

    in = replace(invite, "Max-Forwards: 70\r\n",
                 "Max-Forwards: 70\r\nProxy-Require: foo ,bar\r\nproxy-require: baz\r\n");
    handle(in, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_REPLY);
    assert_memory_equal(out, "SIP/2.0 420 Bad Extension\r\n", 27);
    assert_non_null(memmem(out, o.len, "\r\nUnsupported: foo, bar, baz\r\n", 30));
    assert_int_equal(st.replied_420, 1);
    tmp = replace(in, "INVITE sip", "ACK sip");
    ack = replace(tmp, "314159 INVITE", "314159 ACK");
    free(tmp);
    handle(ack, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_DROP);
    assert_int_equal(st.replied_420, 1);
    free(in);
    free(ack);
}

/* tel: URIs are ours to carry; other schemes get 416, a <> Request-URI 400. */
static void test_request_uri_schemes(void **unused)
{
    struct sw_out o;
    char *in;

    in = replace(invite, "INVITE sip:" DEST "@carrier.example.net", "INVITE tel:+" DEST);
    handle(in, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    free(in);
    in = replace(invite, "INVITE sip:" DEST "@carrier.example.net", "INVITE im:" DEST "@x");
    handle(in, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_REPLY);
    assert_memory_equal(out, "SIP/2.0 416 ", 12);
    free(in);
    in = replace(invite, "INVITE sip:" DEST "@carrier.example.net",
                 "INVITE <sip:" DEST "@carrier.example.net>");
    handle(in, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_REPLY);
    assert_memory_equal(out, "SIP/2.0 400 ", 12);
    free(in);
    /* a '?' in the user part is no header */
    in = replace(invite, "INVITE sip:" DEST "@carrier.example.net",
                 "INVITE sip:a?b@carrier.example.net;user=phone");
    handle(in, "10.0.0.1", &o);
    assert_int_equal(o.act, SW_ACT_FORWARD);
    free(in);
    assert_int_equal(st.replied_416, 1);
    assert_int_equal(st.replied_400, 1);
}

/* A response whose next Via is multicast goes nowhere (counted). */
static void test_response_to_multicast_dropped(void **unused)
{
    static const char resp[] =
        "SIP/2.0 200 OK\r\n" OUR_VIA_LINE
        "Via: SIP/2.0/UDP 224.0.1.75:5060;branch=z9hG4bK776asdhds\r\n" RESP_TAIL;
    struct sw_out o;

    handle(resp, "10.0.0.2", &o);
    assert_int_equal(o.act, SW_ACT_DROP);
    assert_int_equal(st.dropped_bad_next_via, 1);
    assert_int_equal(st.forwarded_responses, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_invite_forwarded, reset),
        cmocka_unit_test_setup(test_invite_transparent, reset),
        cmocka_unit_test_setup(test_record_route_above_existing, reset),
        cmocka_unit_test_setup(test_no_record_route, reset),
        cmocka_unit_test_setup(test_max_forwards_missing, reset),
        cmocka_unit_test_setup(test_max_forwards_zero_483, reset),
        cmocka_unit_test_setup(test_reply_tag_stable, reset),
        cmocka_unit_test_setup(test_reply_tag_differs_per_call, reset),
        cmocka_unit_test_setup(test_max_forwards_not_a_number_400, reset),
        cmocka_unit_test_setup(test_cancel_same_branch, reset),
        cmocka_unit_test_setup(test_ack_non2xx_same_branch, reset),
        cmocka_unit_test_setup(test_other_invite_other_branch, reset),
        cmocka_unit_test_setup(test_old_client_branch_stable, reset),
        cmocka_unit_test_setup(test_loop_reflected_482, reset),
        cmocka_unit_test_setup(test_loop_bounced_by_next_hop_482, reset),
        cmocka_unit_test_setup(test_loop_ack_dropped, reset),
        cmocka_unit_test_setup(test_spiral_forwarded, reset),
        cmocka_unit_test_setup(test_loop_old_client_482, reset),
        cmocka_unit_test_setup(test_loop_old_client_behind_nat_482, reset),
        cmocka_unit_test_setup(test_rport_received, reset),
        cmocka_unit_test_setup(test_rport_only, reset),
        cmocka_unit_test_setup(test_tcp_request_gets_rport, reset),
        cmocka_unit_test_setup(test_response_to_tcp_names_connection_and_sent_by, reset),
        cmocka_unit_test_setup(test_route_ours_removed, reset),
        cmocka_unit_test_setup(test_route_ours_removed_from_list, reset),
        cmocka_unit_test_setup(test_route_other_kept, reset),
        cmocka_unit_test_setup(test_response_forwarded_by_received_rport, reset),
        cmocka_unit_test_setup(test_response_forwarded_by_sent_by_tcp, reset),
        cmocka_unit_test_setup(test_response_via_shared_line, reset),
        cmocka_unit_test_setup(test_response_not_ours_dropped, reset),
        cmocka_unit_test_setup(test_response_foreign_branch_dropped, reset),
        cmocka_unit_test_setup(test_response_malformed_dropped, reset),
        cmocka_unit_test_setup(test_unknown_source_403, reset),
        cmocka_unit_test_setup(test_unknown_source_ack_dropped, reset),
        cmocka_unit_test_setup(test_missing_call_id_400, reset),
        cmocka_unit_test_setup(test_garbage_dropped, reset),
        cmocka_unit_test_setup(test_large_invite_goes_tcp, reset),
        cmocka_unit_test_setup(test_small_invite_stays_udp, reset),
        cmocka_unit_test_setup(test_large_invite_udp_fragment, reset),
        cmocka_unit_test_setup(test_sign_trunk_signs, reset),
        cmocka_unit_test_setup(test_strip_trunk_strips, reset),
        cmocka_unit_test_setup(test_double_record_route_tcp_in_udp_out, reset),
        cmocka_unit_test_setup(test_double_record_route_size_switch, reset),
        cmocka_unit_test_setup(test_single_record_route_tcp_both_sides, reset),
        cmocka_unit_test_setup(test_route_double_ours_removed, reset),
        cmocka_unit_test_setup(test_route_double_ours_removed_from_lists, reset),
        cmocka_unit_test_setup(test_too_large_for_udp_513, reset),
        cmocka_unit_test_setup(test_largest_udp_forwarded, reset),
        cmocka_unit_test_setup(test_too_large_for_tcp_513, reset),
        cmocka_unit_test_setup(test_udp_fragment_past_datagram_goes_tcp, reset),
        cmocka_unit_test_setup(test_proxy_require_420, reset),
        cmocka_unit_test_setup(test_request_uri_schemes, reset),
        cmocka_unit_test_setup(test_response_to_multicast_dropped, reset),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
