/*
 * test_rfc4475.c - every RFC 4475 torture message through the proxy, over UDP and over TCP,
 * with what RFC 4475 and RFC 3261 section 16 say a proxy does with each asserted.
 *
 * The messages are the RFC's own archive, bit-exact, in tests/data/rfc4475/ (read from
 * $SRCDIR, which make check sets). Over UDP a file is one datagram into sw_proxy_handle();
 * over TCP it is a byte stream: sip_frame() cuts it as the connection code does, and each
 * framed message goes into sw_proxy_handle() as TCP (a message the framer refuses closes
 * the connection; one it waits on is left pending). No sockets: the socket code is the
 * same for every message and is covered by tests/integration/proxy_sipp.sh.
 *
 * Outcomes: forwarded (and then the bytes sent are the bytes received plus exactly our
 * edits: our Via on top, Max-Forwards decremented or 70 added, received= on the top Via,
 * our Record-Route on dialog-creating requests, one when both sides are UDP and two (RFC
 * 5658) when the request came over TCP), answered with a status (to the source, over the
 * transport it came on, with the counter for that status), or dropped (with its counter).
 * The table below has one line per message with its RFC 4475 section and the reason.
 */
#define _GNU_SOURCE /* memmem */
#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "../../src/daemon/conffile.h"
#include "../../src/proxy/proxy.h"
#include "../../src/sip/framing.h"
#include "../../src/sip/sipmsg.h"

#define US "192.0.2.1:5060"
#define SRC_IP "10.0.0.1"

/* outcomes besides a reply status (a positive number) */
#define FWD (-1)     /* forwarded to the next hop */
#define DROP (-2)    /* dropped, nothing sent */
#define PARTIAL (-3) /* TCP only: the framer waits for more bytes */
#define NOTSIP (-4)  /* TCP only: the framer refuses the stream (the connection is closed) */

struct expect {
    const char *file;    /* in tests/data/rfc4475/, without ".dat" */
    const char *section; /* of RFC 4475 */
    int udp, tcp;        /* the outcome for the whole file over each transport */
    const char *counter; /* the counter that must have counted it (UDP) */
    const char *why;     /* RFC 4475's verdict for a proxy, in a line */
    int tcp_more[2];     /* over TCP, the outcomes of what follows the first message, if any */
};

/* clang-format off */
static const struct expect table[] = {
    /* 3.1.1 valid messages: a proxy carries them, whatever they hold */
    {"wsinv",      "3.1.1.1",  FWD,  FWD,     "forwarded_requests", "valid: white space, folding and escapes are legal", {0}},
    {"intmeth",    "3.1.1.2",  FWD,  FWD,     "forwarded_requests", "valid: unknown method; NUL, BEL, DEL in a quoted-pair are legal", {0}},
    {"esc01",      "3.1.1.3",  FWD,  FWD,     "forwarded_requests", "valid use of % escaping", {0}},
    {"escnull",    "3.1.1.4",  FWD,  FWD,     "forwarded_requests", "valid: escaped NULs in URIs", {0}},
    {"esc02",      "3.1.1.5",  FWD,  FWD,     "forwarded_requests", "valid: % that is no escape, in an unknown method", {0}},
    {"lwsdisp",    "3.1.1.6",  FWD,  FWD,     "forwarded_requests", "valid: no LWS between display name and <", {0}},
    {"longreq",    "3.1.1.7",  FWD,  FWD,     "forwarded_requests", "valid: long values (3.5 KB, fragmented UDP to a UDP-only hop)", {0}},
    /* over TCP dblreq is the REGISTER, then its INVITE, then "C\r\n\r\n" that frames as nothing */
    {"dblreq",     "3.1.1.8",  FWD,  FWD,     "forwarded_requests", "valid: UDP drops what follows Content-Length; TCP frames it as the next message", {FWD, NOTSIP}},
    {"semiuri",    "3.1.1.9",  FWD,  FWD,     "forwarded_requests", "valid: ; in the user part", {0}},
    {"transports", "3.1.1.10", FWD,  FWD,     "forwarded_requests", "valid: unknown transports in lower Vias", {0}},
    {"mpart01",    "3.1.1.11", FWD,  FWD,     "forwarded_requests", "valid: multipart body with binary octets", {0}},
    {"unreason",   "3.1.1.12", DROP, DROP,    "dropped_not_ours",   "valid response, but its top Via is not ours (RFC 3261 16.7 step 3)", {0}},
    {"noreason",   "3.1.1.13", DROP, DROP,    "dropped_not_ours",   "valid response without reason phrase; top Via not ours", {0}},
    /* 3.1.2 invalid messages: answer 400 where there is a Via to answer to */
    {"badinv01",   "3.1.2.1",  400,  400,     "replied_400",        "extraneous header separators: two To, two Call-ID", {0}},
    {"clerr",      "3.1.2.2",  400,  PARTIAL, "replied_400",        "Content-Length larger than the datagram; a stream waits for the rest", {0}},
    {"ncl",        "3.1.2.3",  400,  NOTSIP,  "replied_400",        "negative Content-Length; a stream cannot be framed", {0}},
    {"scalar02",   "3.1.2.4",  400,  400,     "replied_400",        "overlarge CSeq and Max-Forwards", {0}},
    {"scalarlg",   "3.1.2.5",  DROP, DROP,    "dropped_malformed",  "response with overlarge scalars: nobody to answer", {0}},
    {"quotbal",    "3.1.2.6",  FWD,  FWD,     "forwarded_requests", "unterminated quote in To: RFC 3261 16.3 step 1, a proxy leaves To alone", {0}},
    {"ltgtruri",   "3.1.2.7",  400,  400,     "replied_400",        "Request-URI in <>: a proxy must not forward it", {0}},
    {"lwsruri",    "3.1.2.8",  400,  400,     "replied_400",        "LWS inside the Request-URI", {0}},
    {"lwsstart",   "3.1.2.9",  400,  400,     "replied_400",        "several SP between request-line elements", {0}},
    {"trws",       "3.1.2.10", 400,  400,     "replied_400",        "SP after SIP/2.0 at the end of the request line", {0}},
    {"escruri",    "3.1.2.11", 400,  400,     "replied_400",        "escaped headers in the Request-URI: a proxy must not forward them", {0}},
    {"baddate",    "3.1.2.12", FWD,  FWD,     "forwarded_requests", "non-GMT Date: reject only when the Date matters; a proxy carries it", {0}},
    {"regbadct",   "3.1.2.13", FWD,  FWD,     "forwarded_requests", "Contact URI with headers outside <>: the registrar judges; unambiguous", {0}},
    {"badaspec",   "3.1.2.14", FWD,  FWD,     "forwarded_requests", "spaces in To's addr-spec: a proxy does not use To", {0}},
    {"baddn",      "3.1.2.15", FWD,  FWD,     "forwarded_requests", "non-token display names: a proxy does not use them", {0}},
    {"badvers",    "3.1.2.16", 505,  505,     "replied_505",        "SIP/7.0: 505 Version Not Supported", {0}},
    {"mismatch01", "3.1.2.17", 400,  400,     "replied_400",        "CSeq method does not match the request line", {0}},
    {"mismatch02", "3.1.2.18", 400,  400,     "replied_400",        "unknown method with a CSeq method mismatch", {0}},
    {"bigcode",    "3.1.2.19", DROP, DROP,    "dropped_malformed",  "response code over 699", {0}},
    /* 3.2 transaction layer */
    {"badbranch",  "3.2.1",    FWD,  FWD,     "forwarded_requests", "branch is only the magic cookie: an RFC 2543 request", {0}},
    /* 3.3 application layer */
    {"insuf",      "3.3.1",    400,  400,     "replied_400",        "no From, To, Call-ID", {0}},
    {"unkscm",     "3.3.2",    416,  416,     "replied_416",        "unknown Request-URI scheme", {0}},
    {"novelsc",    "3.3.3",    416,  416,     "replied_416",        "known but atypical scheme we never take", {0}},
    {"unksm2",     "3.3.4",    FWD,  FWD,     "forwarded_requests", "unknown schemes in To, From, Contact: forward as any request", {0}},
    {"bext01",     "3.3.5",    420,  420,     "replied_420",        "Proxy-Require with options we lack: 420 with Unsupported", {0}},
    {"invut",      "3.3.6",    FWD,  FWD,     "forwarded_requests", "unknown Content-Type: the UAS answers 415, not a proxy", {0}},
    {"regaut01",   "3.3.7",    FWD,  FWD,     "forwarded_requests", "unknown Authorization scheme: for the registrar", {0}},
    {"multi01",    "3.3.8",    400,  400,     "replied_400",        "several values in single-value headers", {0}},
    {"mcl01",      "3.3.9",    400,  NOTSIP,  "replied_400",        "two Content-Length values; a stream cannot be framed", {0}},
    {"bcast",      "3.3.10",   DROP, DROP,    "dropped_not_ours",   "response not through us (the bcast variants below come through us)", {0}},
    {"zeromf",     "3.3.11",   483,  483,     "replied_483",        "Max-Forwards 0", {0}},
    {"cparam01",   "3.3.12",   FWD,  FWD,     "forwarded_requests", "unusual Content-Type parameters", {0}},
    {"cparam02",   "3.3.13",   FWD,  FWD,     "forwarded_requests", "Content-Type parameters with quoted strings", {0}},
    {"regescrt",   "3.3.14",   FWD,  FWD,     "forwarded_requests", "escaped Route in a Contact URI: for the registrar", {0}},
    {"sdp01",      "3.3.15",   FWD,  FWD,     "forwarded_requests", "unacceptable Accept: for the UAS", {0}},
    /* 3.4 backward compatibility */
    {"inv2543",    "3.4.1",    FWD,  NOTSIP,  "forwarded_requests", "RFC 2543 INVITE; no Content-Length, which a stream needs", {0}},
    /* the archive's sample */
    {"test",       "4",        DROP, DROP,    "dropped_malformed",  "no SIP version, no Via: nothing to answer", {0}},
};
/* clang-format on */
#define NTABLE (sizeof(table) / sizeof(table[0]))

static char dir[64], conf_path[128], datadir[1024];
static struct sw_config *cfg;
static struct sw_proxy_env env;
static struct sw_stats st;
static char out[SW_OUT_MAX];

static const char conf_text[] =
    "listen = ( { address = \"192.0.2.1\"; port = 5060; } );\n"
    "trunks = (\n"
    "  { name = \"pbx\"; match = { source = [ \"10.0.0.1/32\" ]; };\n"
    "    next_hop = \"sip:10.0.0.2:5060\"; record_route = true; },\n"
    "  { name = \"carrier\"; match = { source = [ \"10.0.0.2/32\" ]; };\n"
    "    next_hop = \"sip:10.0.0.1:5060\"; }\n"
    ");\n";

static int group_setup(void **unused)
{
    char errs[4096];
    const char *src = getenv("SRCDIR");
    FILE *fp;

    snprintf(datadir, sizeof(datadir), "%s/tests/data/rfc4475", src ? src : ".");
    snprintf(dir, sizeof(dir), "/tmp/test_rfc4475.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(conf_path, sizeof(conf_path), "%s/stirwire.conf", dir);
    fp = fopen(conf_path, "w");
    assert_non_null(fp);
    assert_true(fputs(conf_text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
    if (sw_config_load(conf_path, NULL, &cfg, errs, sizeof(errs)) != 0)
        fail_msg("config does not load:\n%s", errs);
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
    unlink(conf_path);
    rmdir(dir);
    return 0;
}

/* --- helpers ----------------------------------------------------------------------------- */

/* The whole file (free); its length in *len. */
static char *read_dat(const char *name, size_t *len)
{
    char path[1200], *buf;
    FILE *fp;
    long n;

    snprintf(path, sizeof(path), "%s/%s.dat", datadir, name);
    if ((fp = fopen(path, "rb")) == NULL)
        fail_msg("cannot open %s (is SRCDIR set to the source tree?)", path);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    n = ftell(fp);
    assert_true(n > 0);
    rewind(fp);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static uint64_t counter(const struct sw_stats *s, const char *name)
{
    const struct sw_counter_info *c;
    size_t n, i;

    c = sw_counters(&n);
    for (i = 0; i < n; i++)
        if (strcmp(c[i].name, name) == 0)
            return *(const uint64_t *)((const char *)s + c[i].offset);
    fail_msg("no counter %s", name);
    return 0;
}

static void handle(const char *buf, size_t len, int transport, struct sw_out *o)
{
    struct sockaddr_in src;

    memset(&src, 0, sizeof(src));
    src.sin_family = AF_INET;
    src.sin_port = htons(5060);
    assert_int_equal(inet_pton(AF_INET, SRC_IP, &src.sin_addr), 1);
    {
        struct sw_rx rx = {buf,         len,       (const struct sockaddr *)&src,
                           sizeof(src), transport, (int64_t)time(NULL)};
        memset(out, 0, sizeof(out));
        sw_proxy_handle(&env, &rx, out, o, &st);
    }
}

static void assert_dst(const struct sw_out *o, const char *ip, int port)
{
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&o->dst;
    char got[64];

    assert_int_equal(sin->sin_family, AF_INET);
    assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, got, sizeof(got)));
    assert_string_equal(got, ip);
    assert_int_equal(ntohs(sin->sin_port), port);
}

/* An edit of the expected output: replace in[off .. off+del) with text. */
struct xedit {
    size_t off, del;
    char text[256];
};

static void add_edit(struct xedit *e, size_t *n, size_t off, size_t del, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void add_edit(struct xedit *e, size_t *n, size_t off, size_t del, const char *fmt, ...)
{
    va_list ap;

    assert_true(*n < 8);
    e[*n].off = off;
    e[*n].del = del;
    va_start(ap, fmt);
    vsnprintf(e[*n].text, sizeof(e[*n].text), fmt, ap);
    va_end(ap);
    (*n)++;
}

/* in[0..len) with the edits applied in offset order (stable for equal offsets); free. */
static char *apply(const char *in, size_t len, struct xedit *e, size_t n, size_t *outlen)
{
    char *s = malloc(len + 8 * 300), *p = s;
    size_t i, j, at = 0;

    assert_non_null(s);
    for (i = 1; i < n; i++) /* insertion sort keeps equal offsets in order of addition */
        for (j = i; j > 0 && e[j - 1].off > e[j].off; j--) {
            struct xedit t = e[j];
            e[j] = e[j - 1];
            e[j - 1] = t;
        }
    for (i = 0; i < n; i++) {
        assert_true(e[i].off >= at);
        memcpy(p, in + at, e[i].off - at);
        p += e[i].off - at;
        memcpy(p, e[i].text, strlen(e[i].text));
        p += strlen(e[i].text);
        at = e[i].off + e[i].del;
    }
    memcpy(p, in + at, len - at);
    p += len - at;
    *outlen = (size_t)(p - s);
    return s;
}

static int is_method(const struct sip_msg *m, const char *name)
{
    return sip_is_method(m, name);
}

/*
 * A forwarded request: the bytes are in[0..len) (as framed, or as the datagram with what
 * follows Content-Length discarded) plus exactly our edits.
 */
static void assert_forwarded(const char *name, const char *in, size_t len, int transport,
                             const struct sw_out *o)
{
    struct sip_msg m;
    struct sip_via v;
    struct xedit e[8];
    const struct sip_hdr *h;
    char err[160], branch[64], rr[256];
    const char *p;
    size_t ne = 0, wantlen, i;
    char *want;

    assert_int_equal(o->act, SW_ACT_FORWARD);
    assert_dst(o, "10.0.0.2", 5060);
    assert_int_equal(o->transport, SW_UDP);
    if (sip_parse(&m, in, len, err, sizeof(err)) != 0)
        fail_msg("%s: forwarded but does not parse: %s", name, err);
    /* our branch, read from the output: its value is tested in test_proxy.c */
    p = memmem(out, o->len,
               "Via: SIP/2.0/UDP " US ";branch=", strlen("Via: SIP/2.0/UDP " US ";branch="));
    assert_non_null(p);
    p += strlen("Via: SIP/2.0/UDP " US ";branch=");
    for (i = 0; i < sizeof(branch) - 1 && p[i] != ';'; i++)
        branch[i] = p[i];
    branch[i] = '\0';
    h = sip_hdr_find(&m, SH_VIA, 0);
    assert_non_null(h);
    add_edit(e, &ne, h->line_off, 0, "Via: SIP/2.0/UDP " US ";branch=%s;rport\r\n", branch);
    if (is_method(&m, "INVITE") || is_method(&m, "SUBSCRIBE") || is_method(&m, "REFER") ||
        is_method(&m, "NOTIFY")) {
        const struct sip_hdr *rrh = sip_hdr_find(&m, SH_RECORD_ROUTE, 0);
        if (transport == SW_UDP)
            snprintf(rr, sizeof(rr), "Record-Route: <sip:" US ";lr>\r\n");
        else /* RFC 5658: toward the next hop (UDP) first, then toward the sender (TCP) */
            snprintf(rr, sizeof(rr),
                     "Record-Route: <sip:" US ";lr;transport=udp>\r\n"
                     "Record-Route: <sip:" US ";lr;transport=tcp>\r\n");
        add_edit(e, &ne, rrh ? rrh->line_off : h->line_off, 0, "%s", rr);
    }
    assert_int_equal(sip_via_parse(&m, h, &v), 0);
    /*
     * RFC 3261 18.2.2: a TCP request's responses must find its connection, so a TCP Via
     * without rport gets the source port as rport (before received=, at the value's end)
     */
    if (v.rport < 0 && transport == SW_TCP && strcasecmp(v.transport, "TCP") == 0)
        add_edit(e, &ne, h->value_off + v.value_len, 0, ";rport=5060");
    /* RFC 3581: a value-less rport gets the source port, and received= follows it */
    if (v.rport == 0) {
        const char *val = m.buf + h->value_off;
        for (i = 0; i + 6 <= v.value_len; i++)
            if (strncasecmp(val + i, ";rport", 6) == 0 &&
                (i + 6 == v.value_len || strchr(";, ", val[i + 6]) != NULL))
                break;
        assert_true(i + 6 <= v.value_len);
        add_edit(e, &ne, h->value_off + i + 6, 0, "=5060");
    }
    /* received= on the top Via when its host is not the source (RFC 3261 18.2.1) */
    if (strcmp(v.host, SRC_IP) != 0 && v.received[0] == '\0')
        add_edit(e, &ne, h->value_off + v.value_len, 0, ";received=" SRC_IP);
    if ((h = sip_hdr_find(&m, SH_MAX_FORWARDS, 0)) != NULL) {
        int mf = atoi(m.buf + h->value_off);
        add_edit(e, &ne, h->value_off, h->value_len, "%d", mf - 1);
    } else {
        add_edit(e, &ne, m.hdrs_end, 0, "Max-Forwards: 70\r\n");
    }
    want = apply(in, m.len, e, ne, &wantlen);
    if (o->len != wantlen || memcmp(out, want, wantlen) != 0)
        fail_msg("%s: forwarded bytes differ (%zu, want %zu):\n--- got\n%.*s\n--- want\n%.*s", name,
                 o->len, wantlen, (int)o->len, out, (int)wantlen, want);
    free(want);
}

/* A reply with that status, to the source over the transport the request came on. */
static void assert_reply(const char *name, int status, int transport, const struct sw_out *o)
{
    char line[32];

    if (o->act != SW_ACT_REPLY)
        fail_msg("%s: action %d, want a %d reply (%s)", name, o->act, status, o->why);
    assert_dst(o, SRC_IP, 5060);
    assert_int_equal(o->transport, transport);
    snprintf(line, sizeof(line), "SIP/2.0 %d ", status);
    if (o->len < strlen(line) || memcmp(out, line, strlen(line)) != 0)
        fail_msg("%s: reply starts %.40s, want %s", name, out, line);
}

/* One message's outcome, from the action the proxy took. */
static void check_outcome(const struct expect *x, int want, const char *in, size_t len,
                          int transport, const struct sw_out *o)
{
    if (want == FWD)
        assert_forwarded(x->file, in, len, transport, o);
    else if (want == DROP) {
        if (o->act != SW_ACT_DROP)
            fail_msg("%s: action %d, want a drop", x->file, o->act);
    } else {
        assert_reply(x->file, want, transport, o);
    }
}

/* --- the tests --------------------------------------------------------------------------- */

static void test_udp(void **state)
{
    const struct expect *x = *state;
    struct sw_out o;
    size_t len;
    char *buf = read_dat(x->file, &len);

    memset(&st, 0, sizeof(st));
    handle(buf, len, SW_UDP, &o);
    check_outcome(x, x->udp, buf, len, SW_UDP, &o);
    if (counter(&st, x->counter) != 1)
        fail_msg("%s: counter %s is %llu, want 1 (%s)", x->file, x->counter,
                 (unsigned long long)counter(&st, x->counter), o.why);
    free(buf);
}

/* The file as a TCP stream: framed, then each message handled as TCP. */
static void test_tcp(void **state)
{
    const struct expect *x = *state;
    struct sw_out o;
    size_t len, at = 0, n = 0;
    char *buf = read_dat(x->file, &len);
    enum sip_frame f;
    int frames = 0, want, got;

    memset(&st, 0, sizeof(st));
    while (at < len) {
        f = sip_frame(buf + at, len - at, &n);
        if (f == SIP_FRAME_KEEPALIVE) { /* CRLFs after a message, as a stream may carry */
            at += n;
            continue;
        }
        want = frames == 0 ? x->tcp : frames <= 2 ? x->tcp_more[frames - 1] : 0;
        if (want == 0)
            fail_msg("%s: %zu bytes left over TCP after %d messages", x->file, len - at, frames);
        frames++;
        if (f == SIP_FRAME_PARTIAL || f == SIP_FRAME_NOT_SIP) {
            got = f == SIP_FRAME_PARTIAL ? PARTIAL : NOTSIP;
            if (got != want)
                fail_msg("%s: message %d: the framer says %s, want outcome %d", x->file, frames,
                         got == PARTIAL ? "partial" : "not SIP", want);
            break; /* the connection waits, or is closed */
        }
        assert_int_equal(f, SIP_FRAME_COMPLETE);
        if (want == PARTIAL || want == NOTSIP)
            fail_msg("%s: message %d framed, want the framer to %s", x->file, frames,
                     want == PARTIAL ? "wait" : "refuse it");
        handle(buf + at, n, SW_TCP, &o);
        check_outcome(x, want, buf + at, n, SW_TCP, &o);
        at += n;
    }
    want = frames == 0 ? x->tcp : frames <= 2 ? x->tcp_more[frames - 1] : 0;
    if (frames == 0 || (at == len && want != 0))
        fail_msg("%s: the stream ended after %d messages, want more", x->file, frames);
    free(buf);
}

/* The table names every file of the archive, and only those. */
static void test_table_covers_archive(void **unused)
{
    DIR *d = opendir(datadir);
    struct dirent *de;
    size_t i, files = 0;

    if (d == NULL)
        fail_msg("cannot open %s", datadir);
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        int found = 0;
        if (n < 5 || strcmp(de->d_name + n - 4, ".dat") != 0)
            continue;
        files++;
        for (i = 0; i < NTABLE; i++)
            if (strlen(table[i].file) == n - 4 && strncmp(table[i].file, de->d_name, n - 4) == 0)
                found = 1;
        if (!found)
            fail_msg("%s has no line in the table", de->d_name);
    }
    closedir(d);
    assert_int_equal(files, NTABLE);
    assert_int_equal(NTABLE, 50);
}

/*
 * bcast (3.3.10) with our Via put on top, so that it comes back through us: the next Via
 * is the broadcast address, where a response must never go. Likewise a multicast one.
 */
static void bcast_with_our_via(const char *next, const char *name)
{
    static const char ours[] = "Via: SIP/2.0/UDP " US ";branch=z9hG4bK-sw0123456789abcdef\r\n";
    struct sw_out o;
    size_t len, n;
    char *buf = read_dat("bcast", &len), *msg, *line2, *eol, *bc;

    line2 = strstr(buf, "\r\n") + 2;
    eol = strstr(line2, "\r\n") + 2;
    n = (size_t)(line2 - buf);
    msg = malloc(len + 200);
    assert_non_null(msg);
    memcpy(msg, buf, n);
    memcpy(msg + n, ours, strlen(ours));
    memcpy(msg + n + strlen(ours), eol, len - (size_t)(eol - buf));
    len = n + strlen(ours) + len - (size_t)(eol - buf);
    msg[len] = '\0';
    /* the same length keeps the message as it was but for the address */
    bc = strstr(msg, "255.255.255.255");
    assert_non_null(bc);
    assert_int_equal(strlen(next), 15);
    memcpy(bc, next, 15);
    memset(&st, 0, sizeof(st));
    handle(msg, len, SW_UDP, &o);
    if (o.act != SW_ACT_DROP)
        fail_msg("%s: action %d, want a drop", name, o.act);
    assert_int_equal(st.dropped_bad_next_via, 1);
    assert_int_equal(st.forwarded_responses, 0);
    free(msg);
    free(buf);
}

static void test_bcast_through_us_dropped(void **unused)
{
    bcast_with_our_via("255.255.255.255", "bcast");
}

static void test_multicast_through_us_dropped(void **unused)
{
    bcast_with_our_via("239.255.255.250", "multicast");
}

int main(void)
{
    struct CMUnitTest tests[2 * NTABLE + 3];
    static char names[2 * NTABLE][64];
    size_t i, n = 0;

    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_table_covers_archive);
    for (i = 0; i < NTABLE; i++) {
        snprintf(names[2 * i], sizeof(names[0]), "%s (%s) over UDP", table[i].file,
                 table[i].section);
        snprintf(names[2 * i + 1], sizeof(names[0]), "%s (%s) over TCP", table[i].file,
                 table[i].section);
        tests[n++] = (struct CMUnitTest){names[2 * i], test_udp, NULL, NULL, (void *)&table[i]};
        tests[n++] = (struct CMUnitTest){names[2 * i + 1], test_tcp, NULL, NULL, (void *)&table[i]};
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_bcast_through_us_dropped);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_multicast_through_us_dropped);
    return _cmocka_run_group_tests("rfc4475", tests, n, group_setup, group_teardown);
}
