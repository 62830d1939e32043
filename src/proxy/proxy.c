/*
 * proxy.c - the stateless proxy's decisions for one message (see proxy.h).
 *
 * Requests: parse; find the trunk by source; Max-Forwards (0 -> 483, missing -> 70, else
 * decrement); our branch from the incoming branch, so CANCEL and ACK for a non-2xx get
 * the same one; a Via of ours carrying that branch means a loop (482); our Route entry is
 * removed; the trunk's filter chain runs; our Via (and Record-Route when the trunk wants
 * it) goes on top; the next hop is the trunk's. Responses: the top Via must be ours, else
 * drop; it is removed and the response goes where the next Via says (received / rport).
 *
 * Every change is a splice of the received bytes; nothing is re-serialised. A bump in
 * the wire has one neighbour on each side, so requests always go to the trunk's next hop:
 * the Request-URI and remaining Route entries are carried, not used for routing, and no
 * DNS lookup ever happens on this path.
 *
 * The trunk's filters run through the pipeline (src/core/pipeline.h) between our work
 * before the chain and after it; a filter that waits parks the job, and the worker hands
 * the woken job back to sw_proxy_resume(), which finishes it exactly as if it had not
 * waited. The message lives in a struct sw_job on this function's stack until then.
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <osipparser2/osip_parser.h>

#include "../core/pipeline.h"
#include "../sip/fields.h"
#include "proxy.h"

#define BRANCH_MAGIC "z9hG4bK"
/* our branches start with this, so a response's Via is recognisably ours */
#define OUR_BRANCH BRANCH_MAGIC "-sw"

/* --- small helpers -------------------------------------------------------------------- */

/* FNV-1a over the bytes, seeded, with a final mix so that close inputs spread. */
static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

static uint64_t hash_final(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

static int is_us(const struct sw_proxy_env *env, const char *host, int port)
{
    return strcasecmp(host, env->host) == 0 && (port == 0 ? 5060 : port) == env->port;
}

/* RFC 3261 section 25.1 token characters: alphanumerics and -.!%*_+`'~ */
static int is_token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-.!%*_+`'~", c) != NULL);
}

static int is_lws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static const char *transport_name(int transport)
{
    return transport == SW_TCP ? "TCP" : "UDP";
}

/* host for a URI or Via: IPv6 literals go in brackets */
static void uri_host(const char *host, char *out, size_t size)
{
    if (strchr(host, ':') != NULL)
        snprintf(out, size, "[%s]", host);
    else
        snprintf(out, size, "%s", host);
}

/* --- replies -------------------------------------------------------------------------- */

/* A header name test over raw bytes, long or compact form. */
static int name_is(const char *p, size_t n, const char *longname, char compact)
{
    return (n == strlen(longname) && strncasecmp(p, longname, n) == 0) ||
           (compact != 0 && n == 1 && (p[0] | 0x20) == compact);
}

/*
 * Writes a reply to the request in buf: the status line, the request's Via, From, To
 * (with our tag when it has none), Call-ID and CSeq lines copied as they came (RFC 3261
 * section 8.2.6.2), the extra lines, and an empty body. Works on a message that did not
 * parse, as long as its header lines can be found: that is how a malformed request still
 * gets its 400. Returns the length, or 0 when no reply can be built (no Via).
 */
static size_t build_reply(const struct sw_proxy_env *env, const char *buf, size_t len, int status,
                          const char *reason, const char *extra, char *out)
{
    const char *p, *end = buf + len, *eol, *colon;
    size_t o = 0, cap = SW_OUT_MAX;
    int have_via = 0, first = 1;
    char tag[32];
    uint64_t h = env->secret;
    int n;

    /* our To tag comes from the Call-ID and the From line, wherever they are */
    for (p = memchr(buf, '\n', len); p != NULL && p + 1 < end; p = eol) {
        const char *line = p + 1;
        if ((eol = memchr(line, '\n', (size_t)(end - line))) == NULL || eol - line <= 1)
            break;
        if ((colon = memchr(line, ':', (size_t)(eol - line))) == NULL)
            continue;
        {
            const char *last = colon;
            while (last > line && (last[-1] == ' ' || last[-1] == '\t'))
                last--;
            if (name_is(line, (size_t)(last - line), "call-id", 'i') ||
                name_is(line, (size_t)(last - line), "from", 'f'))
                h = hash_bytes(h, colon, (size_t)(eol - colon));
        }
    }
    n = snprintf(out, cap, "SIP/2.0 %d %s\r\n", status, reason);
    if (n < 0)
        return 0;
    o = (size_t)n;
    for (p = buf; p < end; p = eol + 1) {
        const char *line = p, *name, *last;
        size_t nlen, llen;

        if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
            break;
        if (first) { /* the start line */
            first = 0;
            continue;
        }
        if (eol == p || (eol == p + 1 && *p == '\r'))
            break; /* end of headers */
        /* take folded continuation lines with this one */
        while (eol + 1 < end && (eol[1] == ' ' || eol[1] == '\t')) {
            const char *next = memchr(eol + 1, '\n', (size_t)(end - eol - 1));
            if (next == NULL)
                break;
            eol = next;
        }
        if ((colon = memchr(line, ':', (size_t)(eol - line))) == NULL)
            continue;
        name = line;
        for (last = colon; last > name && (last[-1] == ' ' || last[-1] == '\t'); last--)
            ;
        nlen = (size_t)(last - name);
        llen = (size_t)(eol - line);
        if (llen > 0 && line[llen - 1] == '\r')
            llen--;
        if (name_is(name, nlen, "via", 'v'))
            have_via = 1;
        else if (name_is(name, nlen, "call-id", 'i'))
            ;
        else if (!name_is(name, nlen, "from", 'f') && !name_is(name, nlen, "to", 't') &&
                 !name_is(name, nlen, "cseq", 0))
            continue;
        if (o + llen + 64 > cap)
            return 0;
        memcpy(out + o, line, llen);
        o += llen;
        /* a To without a tag gets ours, stable across retransmissions (RFC 3261 8.2.6.2) */
        if (name_is(name, nlen, "to", 't') && status > 100) {
            const char *v = colon + 1;
            int tagged = 0;
            size_t i;
            for (i = 0; v + i + 4 <= line + llen; i++)
                if (strncasecmp(v + i, ";tag", 4) == 0)
                    tagged = 1;
            if (!tagged) {
                n = snprintf(tag, sizeof(tag), ";tag=sw%08x", (unsigned)hash_final(h));
                memcpy(out + o, tag, (size_t)n);
                o += (size_t)n;
            }
        }
        out[o++] = '\r';
        out[o++] = '\n';
    }
    if (!have_via)
        return 0;
    n = snprintf(out + o, cap - o, "%sServer: stirwired\r\nContent-Length: 0\r\n\r\n",
                 extra ? extra : "");
    if (n < 0 || (size_t)n >= cap - o)
        return 0;
    return o + (size_t)n;
}

/* Sets o to a reply sent back to the source, over the transport it came on. */
static void reply(const struct sw_proxy_env *env, const char *buf, size_t len,
                  const struct sockaddr *src, socklen_t srclen, int transport, int status,
                  const char *reason, const char *extra, char *out, struct sw_out *o,
                  struct sw_stats *st)
{
    o->len = build_reply(env, buf, len, status, reason, extra, out);
    if (o->len == 0) {
        o->act = SW_ACT_DROP;
        st->dropped_malformed++;
        return;
    }
    o->act = SW_ACT_REPLY;
    memcpy(&o->dst, src, srclen);
    o->dstlen = srclen;
    o->transport = transport;
    st->replies++;
}

/* --- requests ------------------------------------------------------------------------- */

/*
 * Our branch. RFC 3261 clients (branch starts with z9hG4bK) give us a unique branch: hash
 * it with the Request-URI, so a CANCEL or an ACK for a non-2xx, which carry their INVITE's
 * branch and Request-URI, get the same one. Older clients: hash what RFC 3261 section
 * 16.11 lists instead. `via` is the Via value that is topmost when we receive the request.
 */
static void our_branch(const struct sw_proxy_env *env, const struct sip_msg *m,
                       const struct sip_hdr *via_hdr, const struct sip_via *v, char *out,
                       size_t size)
{
    uint64_t h = env->secret;
    const struct sip_hdr *hd;
    char tag[128];

    if (strncmp(v->branch, BRANCH_MAGIC, 7) == 0 && strlen(v->branch) > 7) {
        h = hash_bytes(h, v->branch, strlen(v->branch));
    } else {
        /*
         * the parsed sent-by and transport, not the raw value: we add received/rport to
         * that Via, and a looped request must still hash the same
         */
        (void)via_hdr;
        h = hash_bytes(h, v->transport, strlen(v->transport));
        h = hash_bytes(h, v->host, strlen(v->host));
        h = hash_bytes(h, &v->port, sizeof(v->port));
        h = hash_bytes(h, v->branch, strlen(v->branch));
        if ((hd = sip_hdr_find(m, SH_FROM, 0)) != NULL && sip_hdr_tag(m, hd, tag, sizeof(tag)) == 0)
            h = hash_bytes(h, tag, strlen(tag));
        if ((hd = sip_hdr_find(m, SH_TO, 0)) != NULL && sip_hdr_tag(m, hd, tag, sizeof(tag)) == 0)
            h = hash_bytes(h, tag, strlen(tag));
        if ((hd = sip_hdr_find(m, SH_CALL_ID, 0)) != NULL)
            h = hash_bytes(h, m->buf + hd->value_off, hd->value_len);
        h = hash_bytes(h, &m->cseq, sizeof(m->cseq));
    }
    h = hash_bytes(h, m->buf + m->ruri_off, m->ruri_len);
    snprintf(out, size, OUR_BRANCH "%016llx", (unsigned long long)hash_final(h));
}

/*
 * A loop (RFC 3261 section 16.3 item 4): the request carries a Via of ours whose branch is
 * the one we would compute from the Via just below it, which was the topmost Via when we
 * forwarded it before. The Request-URI is in the hash, so a spiral (same request back with
 * a new Request-URI) is not taken for a loop.
 */
static int looped(const struct sw_proxy_env *env, const struct sip_msg *m)
{
    struct sip_hdr rest;
    struct sip_via vv[2];
    const struct sip_hdr *h;
    char branch[64];
    size_t i, guard = 0;
    int have_prev = 0, ours_prev = 0, mentioned = 0;

    /* nearly always none of the Via lines names us: check that without parsing any */
    for (i = 0; (h = sip_hdr_find(m, SH_VIA, i)) != NULL && !mentioned; i++)
        mentioned =
            memmem(m->buf + h->value_off, h->value_len, env->host, strlen(env->host)) != NULL;
    if (!mentioned)
        return 0;
    /* walk every Via value in order, keeping the previous one */
    for (i = 0; (h = sip_hdr_find(m, SH_VIA, i)) != NULL; i++) {
        struct sip_hdr cur = *h;
        while (guard++ < 64 && sip_via_parse(m, &cur, &vv[1]) == 0) {
            if (have_prev && ours_prev) {
                our_branch(env, m, &cur, &vv[1], branch, sizeof(branch));
                if (strcmp(vv[0].branch, branch) == 0)
                    return 1;
            }
            ours_prev = is_us(env, vv[1].host, vv[1].port) &&
                        strncmp(vv[1].branch, OUR_BRANCH, strlen(OUR_BRANCH)) == 0;
            vv[0] = vv[1];
            have_prev = 1;
            if (!vv[1].more || sip_via_rest(m, &cur, &vv[1], &rest) != 0)
                break;
            cur = rest;
        }
    }
    return 0;
}

/*
 * RFC 3261 section 18.2.1 and RFC 3581: the top Via gets received= when its host is not
 * the address the request came from, and rport gets the source port when it asks for it.
 * That is how the response finds its way back through NAT without any state here.
 *
 * Over TCP the source port goes into rport even when the client did not ask (Kamailio's
 * force_rport): RFC 3261 section 18.2.2 sends the response back on the connection the
 * request came in on, and a stateless proxy finds that connection again from the Via
 * alone. A TCP client's port is ephemeral and its sent-by port is where it listens (or
 * nothing at all), so without this its responses would go to the wrong port. The
 * response side looks up the connection to received:rport and connects to the sent-by
 * port only when that connection is gone (handle_response).
 */
static int mark_received(const struct sip_msg *m, const struct sip_hdr *top,
                         const struct sip_via *v, const char *src_ip, int src_port, int transport,
                         struct sip_edits *ed)
{
    const char *val = m->buf + top->value_off;
    size_t i, n = v->value_len;

    /* (a Via that says UDP on a TCP request gets its responses over UDP: no rport then) */
    if (v->rport < 0 && transport == SW_TCP && strcasecmp(v->transport, "TCP") == 0 &&
        sip_edit_insertf(ed, top->value_off + n, ";rport=%d", src_port) != 0)
        return -1;
    if (v->rport == 0) {
        for (i = 0; i + 6 <= n; i++) {
            if (strncasecmp(val + i, ";rport", 6) == 0 &&
                (i + 6 == n || val[i + 6] == ';' || val[i + 6] == ',' || val[i + 6] == ' ')) {
                if (sip_edit_insertf(ed, top->value_off + i + 6, "=%d", src_port) != 0)
                    return -1;
                break;
            }
        }
    }
    if (strcmp(v->host, src_ip) != 0 && v->received[0] == '\0' &&
        sip_edit_insertf(ed, top->value_off + n, ";received=%s", src_ip) != 0)
        return -1;
    return 0;
}

/* Whether the Route value val[0..n) names us (a copy goes to libosip2's parser). */
static int route_is_us(const struct sw_proxy_env *env, const char *val, size_t n)
{
    char copy[1024];
    osip_route_t *r = NULL;
    int ours = 0, port;

    if (n == 0 || n >= sizeof(copy))
        return 0;
    memcpy(copy, val, n);
    copy[n] = '\0';
    if (osip_route_init(&r) != 0)
        return -1;
    if (osip_route_parse(r, copy) == 0 && r->url != NULL && r->url->host != NULL) {
        port = r->url->port ? (int)strtol(r->url->port, NULL, 10) : 0;
        ours = is_us(env, r->url->host, port);
    }
    osip_route_free(r);
    return ours;
}

/*
 * Removes the top Route values that name us (loose routing, RFC 3261 16.4): one, or two
 * when we put a double Record-Route in the dialog (RFC 5658: one entry per side, each
 * with its transport). The values may share a line or sit on two lines; a line whose
 * values all go is deleted whole, else only its leading values and their commas.
 */
static int pop_our_route(const struct sw_proxy_env *env, const struct sip_msg *m,
                         struct sip_edits *ed)
{
    struct {
        const struct sip_hdr *h;
        size_t end; /* bytes of the value to delete, from value_off */
        int all;    /* every value of the line goes */
    } cut[2];
    const struct sip_hdr *h;
    size_t idx = 0, off = 0, ncut = 0, popped, n, comma, i;
    int ours;

    for (popped = 0; popped < 2 && (h = sip_hdr_find(m, SH_ROUTE, idx)) != NULL; popped++) {
        const char *val = m->buf + h->value_off;

        n = sip_first_value(val + off, h->value_len - off, 1, &comma);
        if ((ours = route_is_us(env, val + off, n)) < 0)
            return -1;
        if (!ours)
            break;
        if (ncut == 0 || cut[ncut - 1].h != h)
            cut[ncut++].h = h;
        if (off + comma >= h->value_len) { /* the line's last value */
            cut[ncut - 1].all = 1;
            idx++;
            off = 0;
            continue;
        }
        for (i = off + comma + 1; i < h->value_len && is_lws(val[i]);)
            i++;
        cut[ncut - 1].all = 0;
        cut[ncut - 1].end = i;
        off = i;
    }
    for (i = 0; i < ncut; i++) {
        int rc = cut[i].all ? sip_edit_delete(ed, cut[i].h->line_off, cut[i].h->line_len)
                            : sip_edit_delete(ed, cut[i].h->value_off, cut[i].end);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/*
 * RFC 3261 16.3 steps 1 and 2 for the Request-URI, which we carry but never route on: it
 * must not be in <> (section 8.1.1.1; RFC 4475 3.1.2.7), a sip: or sips: URI must not
 * carry headers (section 19.1.5: "?" after the host part; RFC 4475 3.1.2.11), and its
 * scheme must be one we know (416; RFC 4475 3.3.2, 3.3.3). Returns 0, or the status with
 * its reason phrase. A '?' before the last '@' is part of the user (RFC 4475 3.1.1.2).
 */
static int check_ruri(const struct sip_msg *m, const char **reason)
{
    const char *u = m->buf + m->ruri_off, *at;
    size_t n = m->ruri_len, s = 0;

    /* byte compares, not strncasecmp: this runs for every request */
    if (n > 4 && (u[0] | 0x20) == 's' && (u[1] | 0x20) == 'i' && (u[2] | 0x20) == 'p')
        s = u[3] == ':' ? 4 : (n > 5 && (u[3] | 0x20) == 's' && u[4] == ':') ? 5 : 0;
    if (s == 0) {
        if (n > 4 && (u[0] | 0x20) == 't' && (u[1] | 0x20) == 'e' && (u[2] | 0x20) == 'l' &&
            u[3] == ':')
            return 0;
        *reason = u[0] == '<' ? "Bad Request-URI" : "Unsupported URI Scheme";
        return u[0] == '<' ? 400 : 416;
    }
    if ((at = memrchr(u + s, '@', n - s)) == NULL)
        at = u + s;
    if (memchr(at, '?', (size_t)(u + n - at)) != NULL) {
        *reason = "Bad Request-URI";
        return 400;
    }
    return 0;
}

/*
 * RFC 3261 16.3 step 5: every option tag of every Proxy-Require line is one we do not
 * support (a bump in the wire implements no extension a proxy must know). Writes
 * "Unsupported: tag, tag\r\n" into out for the 420 and returns 1; 0 when none is listed.
 */
static int proxy_required(const struct sip_msg *m, char *out, size_t size)
{
    const struct sip_hdr *h;
    size_t i, o = 0;
    int tags = 0, n;

    if ((h = sip_hdr_find(m, SH_PROXY_REQUIRE, 0)) == NULL)
        return 0; /* the common case: one look at the header table */
    n = snprintf(out, size, "Unsupported: ");
    o = (size_t)n;
    for (i = 0; (h = sip_hdr_find(m, SH_PROXY_REQUIRE, i)) != NULL; i++) {
        const char *v = m->buf + h->value_off;
        size_t a = 0, len, comma;
        while (a < h->value_len) {
            /* the one list reader (sipmsg.h): value length without trailing white space */
            for (; a < h->value_len && is_lws(v[a]); a++)
                ;
            len = sip_first_value(v + a, h->value_len - a, 0, &comma);
            if (len > 0 && o + len + 4 < size) {
                n = snprintf(out + o, size - o, "%s%.*s", tags ? ", " : "", (int)len, v + a);
                o += (size_t)n;
                tags++;
            }
            a += comma + 1;
        }
    }
    if (tags == 0)
        return 0;
    snprintf(out + o, size - o, "\r\n");
    return 1;
}

static int dialog_creating(const struct sip_msg *m)
{
    return sip_is_method(m, "INVITE") || sip_is_method(m, "SUBSCRIBE") ||
           sip_is_method(m, "REFER") || sip_is_method(m, "NOTIFY");
}

static void forward_request(const struct sw_proxy_env *env, struct sw_job *job, char *out,
                            struct sw_out *o, struct sw_stats *st);

/*
 * The chain and what it decided. Runs for a new request and again for a resumed one;
 * m and everything it points into belong to the job.
 */
static void run_request(const struct sw_proxy_env *env, struct sw_job *job, char *out,
                        struct sw_out *o, struct sw_stats *st)
{
    const struct sip_msg *m = &job->msg;
    const struct sw_trunk *trunk = job->call.trunk;
    const struct swf_filter *by;
    swf_result r;

    r = sw_pipeline_run(job, &by);
    o->park_refused = job->park_refused;
    switch (r) {
    case SWF_CONTINUE:
        forward_request(env, job, out, o, st);
        /*
         * What the done hooks hear is what happened: forward_request may still answer
         * (513, 500: call.reply_status says which) or drop an ACK it cannot send.
         */
        if (o->act == SW_ACT_FORWARD)
            sw_pipeline_done(job, SWF_CONTINUE, NULL);
        else
            sw_pipeline_done(job, o->act == SW_ACT_REPLY ? SWF_REPLY : SWF_DROP, NULL);
        return;
    case SWF_WAIT:
        o->act = SW_ACT_PARKED;
        if (env->verbose)
            snprintf(o->why, sizeof(o->why), "trunk %s: filter %s parked %.*s", trunk->name,
                     by->name, (int)m->method_len, m->buf + m->method_off);
        return;
    case SWF_REPLY:
        snprintf(o->why, sizeof(o->why), "trunk %s: filter %s answers %d (%.160s)", trunk->name,
                 by->name, job->call.reply_status, job->call.note);
        reply(env, m->buf, m->len, (const struct sockaddr *)&job->src, job->srclen, job->transport,
              job->call.reply_status,
              job->call.reply_reason[0] ? job->call.reply_reason : "Rejected",
              job->call.reply_headers, out, o, st);
        st->replied_by_filter++;
        /* a reply that could not be built was a drop (reply() counted it) */
        sw_pipeline_done(job, o->act == SW_ACT_REPLY ? SWF_REPLY : SWF_DROP, by);
        return;
    case SWF_DROP:
    default:
        snprintf(o->why, sizeof(o->why), "trunk %s: filter %s dropped it (%.160s)", trunk->name,
                 by ? by->name : "?", job->call.note);
        o->act = SW_ACT_DROP;
        st->dropped_by_filter++;
        sw_pipeline_done(job, SWF_DROP, by);
        return;
    }
}

static void handle_request(const struct sw_proxy_env *env, struct sw_job *job,
                           const struct sw_rx *rx, char *out, struct sw_out *o, struct sw_stats *st)
{
    const struct sip_msg *m = &job->msg;
    const struct sw_trunk *trunk;
    const struct sip_hdr *topvia, *h;
    struct sip_via v;
    char src_ip[64], rhost[256], unsupported[600];
    const char *reason;
    int src_port, mf, status, is_ack = sip_is_method(m, "ACK");

    st->requests++;
    sw_addr_ip(rx->src, src_ip, sizeof(src_ip), &src_port);
    /* the Request-URI host costs a libosip2 parse: only read when a trunk matches on it */
    trunk = sw_config_match(env->cfg, rx->src,
                            env->cfg->any_domain ? sip_ruri_host(m, rhost, sizeof(rhost)) : NULL);
    o->trunk = trunk;
    if (trunk == NULL) {
        snprintf(o->why, sizeof(o->why), "%.*s from %s:%d matches no trunk", (int)m->method_len,
                 m->buf + m->method_off, src_ip, src_port);
        st->dropped_no_trunk++;
        if (is_ack) {
            o->act = SW_ACT_DROP;
            return;
        }
        reply(env, m->buf, m->len, rx->src, rx->srclen, rx->transport, 403, "Forbidden", NULL, out,
              o, st);
        st->replied_403++;
        return;
    }
    topvia = sip_hdr_find(m, SH_VIA, 0);
    if (topvia == NULL || sip_via_parse(m, topvia, &v) != 0) {
        snprintf(o->why, sizeof(o->why), "request from %s:%d has an unreadable top Via", src_ip,
                 src_port);
        if (is_ack) {
            o->act = SW_ACT_DROP;
            st->dropped_malformed++;
            return;
        }
        reply(env, m->buf, m->len, rx->src, rx->srclen, rx->transport, 400, "Bad Via", NULL, out, o,
              st);
        st->replied_400++;
        return;
    }
    /* RFC 3261 16.3 steps 1 and 2: a Request-URI we can carry (400 / 416) */
    if ((status = check_ruri(m, &reason)) != 0) {
        snprintf(o->why, sizeof(o->why), "%.*s from %s:%d: Request-URI %.*s: %s",
                 (int)m->method_len, m->buf + m->method_off, src_ip, src_port,
                 (int)(m->ruri_len < 80 ? m->ruri_len : 80), m->buf + m->ruri_off, reason);
        if (is_ack) {
            o->act = SW_ACT_DROP;
            st->dropped_malformed++;
            return;
        }
        reply(env, m->buf, m->len, rx->src, rx->srclen, rx->transport, status, reason, NULL, out, o,
              st);
        if (status == 416)
            st->replied_416++;
        else
            st->replied_400++;
        return;
    }
    mf = sip_max_forwards(m);
    if (mf == 0 || mf <= -2) {
        snprintf(o->why, sizeof(o->why), "%s from %s:%d",
                 mf == 0    ? "Max-Forwards 0"
                 : mf == -3 ? "Max-Forwards out of range (0..255)"
                            : "Max-Forwards not a number",
                 src_ip, src_port);
        if (is_ack) { /* nobody answers an ACK */
            o->act = SW_ACT_DROP;
            st->dropped_malformed++;
            return;
        }
        if (mf == 0) {
            reply(env, m->buf, m->len, rx->src, rx->srclen, rx->transport, 483, "Too Many Hops",
                  NULL, out, o, st);
            st->replied_483++;
        } else {
            reply(env, m->buf, m->len, rx->src, rx->srclen, rx->transport, 400, "Bad Max-Forwards",
                  NULL, out, o, st);
            st->replied_400++;
        }
        return;
    }
    if (looped(env, m)) {
        snprintf(o->why, sizeof(o->why), "loop: %.*s from %s:%d already carries our Via",
                 (int)m->method_len, m->buf + m->method_off, src_ip, src_port);
        if (is_ack) {
            o->act = SW_ACT_DROP;
            st->dropped_loop++;
            return;
        }
        reply(env, m->buf, m->len, rx->src, rx->srclen, rx->transport, 482, "Loop Detected", NULL,
              out, o, st);
        st->replied_482++;
        return;
    }

    /* RFC 3261 16.3 step 5: we support no extension a proxy must know of */
    if (proxy_required(m, unsupported, sizeof(unsupported))) {
        snprintf(o->why, sizeof(o->why), "%.*s from %s:%d requires what we lack (%.120s)",
                 (int)m->method_len, m->buf + m->method_off, src_ip, src_port, unsupported);
        if (is_ack) {
            o->act = SW_ACT_DROP;
            st->dropped_malformed++;
            return;
        }
        reply(env, m->buf, m->len, rx->src, rx->srclen, rx->transport, 420, "Bad Extension",
              unsupported, out, o, st);
        st->replied_420++;
        return;
    }

    sw_job_start(job, env->cfg, trunk, rx->src, rx->srclen, rx->transport, rx->now, env->ctx,
                 env->waitq, st);
    job->verbose = env->verbose;
    /*
     * A retransmission of a request that is parked now (RFC 3261 section 17.2.3 matching:
     * same top Via branch, same source, same method) is absorbed: the parked copy will be
     * forwarded, and running the chain again would start a second wait and forward it
     * twice. Once the parked one has left, retransmissions pass again, as a stateless
     * proxy forwards them (section 16.11). Every check above gives a retransmission the
     * answer its first copy got, so this can come after them.
     */
    sw_txn_key_set(&job->txn, v.branch, strlen(v.branch), m->buf + m->method_off, m->method_len,
                   rx->src);
    if (env->waitq != NULL && sw_txns_has(env->waitq->txns, &job->txn, rx->src)) {
        o->act = SW_ACT_ABSORBED;
        snprintf(o->why, sizeof(o->why),
                 "%.*s from %s:%d (trunk %s, branch %.64s): a retransmission of a parked request",
                 (int)m->method_len, m->buf + m->method_off, src_ip, src_port, trunk->name,
                 v.branch);
        st->retrans_absorbed++;
        return;
    }
    our_branch(env, m, topvia, &v, job->route.branch, sizeof(job->route.branch));
    if (mark_received(m, topvia, &v, src_ip, src_port, rx->transport, &job->edits) != 0 ||
        pop_our_route(env, m, &job->edits) != 0)
        goto too_many_edits;
    if (mf == -1) {
        /* at the end of the headers, so that our Via stays the first line */
        if (sip_edit_insert(&job->edits, m->hdrs_end, "Max-Forwards: 70\r\n", 18) != 0)
            goto too_many_edits;
    } else {
        char num[8];
        int n = snprintf(num, sizeof(num), "%d", mf - 1);
        h = sip_hdr_find(m, SH_MAX_FORWARDS, 0);
        if (sip_edit_replace(&job->edits, h->value_off, h->value_len, num, (size_t)n) != 0)
            goto too_many_edits;
    }
    run_request(env, job, out, o, st);
    return;

too_many_edits:
    snprintf(o->why, sizeof(o->why), "request from %s:%d needs more edits than we allow", src_ip,
             src_port);
    reply(env, m->buf, m->len, rx->src, rx->srclen, rx->transport, 500, "Server Internal Error",
          NULL, out, o, st);
    st->replied_500++;
}

/* The largest UDP payload toward that address: 65535 less the IP and UDP headers. */
static size_t udp_max(const struct sockaddr_storage *a)
{
    return a->ss_family == AF_INET6 ? 65535 - 8 : 65535 - 20 - 8;
}

static const char *transport_param(int transport)
{
    return transport == SW_TCP ? "tcp" : "udp";
}

/*
 * Our Record-Route lines for a request that came in over in and goes out over out. One
 * line when both sides use one transport (";transport=tcp" when that is TCP, as before);
 * two when they differ (RFC 5658 double Record-Route): the entry facing the next hop
 * first, then the one facing the previous hop, each naming its transport, so that
 * in-dialog requests from either side reach us over the transport that side uses.
 * Returns the length written (snprintf's: measure with size 0).
 */
static int record_route_lines(const char *host, int port, int in, int out, char *buf, size_t size)
{
    if (in == out)
        return snprintf(buf, size, "Record-Route: <sip:%s:%d;lr%s>\r\n", host, port,
                        in == SW_TCP ? ";transport=tcp" : "");
    return snprintf(buf, size,
                    "Record-Route: <sip:%s:%d;lr;transport=%s>\r\n"
                    "Record-Route: <sip:%s:%d;lr;transport=%s>\r\n",
                    host, port, transport_param(out), host, port, transport_param(in));
}

/*
 * After the chain: the transport toward the next hop, our Via and Record-Route, the
 * splice. The transport is as configured, except that a request over 1300 bytes leaves
 * UDP for TCP where the hop takes TCP (RFC 3261 18.1.1), unless the trunk prefers
 * fragmented UDP, and one larger than a UDP datagram can hold always does. A request
 * that fits no transport the hop takes (over a UDP datagram toward a UDP-only hop, or
 * over SIP_MAX_MSG, the most we ourselves accept, on TCP) is answered 513.
 */
static void forward_request(const struct sw_proxy_env *env, struct sw_job *job, char *out,
                            struct sw_out *o, struct sw_stats *st)
{
    const struct sip_msg *m = &job->msg;
    const struct sw_trunk *trunk = job->call.trunk;
    const struct sip_hdr *topvia = sip_hdr_find(m, SH_VIA, 0);
    struct sip_edits *ed = &job->edits;
    const char *branch = job->route.branch;
    const struct sw_hop *hop = sw_trunk_pick_hop(trunk, m);
    char host[300], src_ip[64], rrbuf[700];
    int out_transport = hop->transport, src_port, n;
    int rr = trunk->record_route && dialog_creating(m);
    size_t i, grow, limit, umax = udp_max(&hop->addr);
    long delta = 0;

    for (i = 0; i < ed->n; i++)
        delta += (long)ed->e[i].ins_len - (long)ed->e[i].del;
    uri_host(env->host, host, sizeof(host));
    /* our Via and Record-Route, measured as they will be written ("UDP" and "TCP" are alike) */
    delta +=
        snprintf(NULL, 0, "Via: SIP/2.0/UDP %s:%d;branch=%s;rport\r\n", host, env->port, branch);
    if (rr)
        delta += record_route_lines(host, env->port, job->transport, out_transport, NULL, 0);
    grow = (size_t)((long)m->len + delta);
    if (out_transport == SW_UDP && hop->tcp_capable &&
        ((grow > SW_UDP_MTU_LIMIT && !trunk->udp_fragment) || grow > umax)) {
        out_transport = SW_TCP;
        st->sent_tcp_for_size++;
    }
    if (sip_edit_insertf(ed, topvia->line_off, "Via: SIP/2.0/%s %s:%d;branch=%s;rport\r\n",
                         transport_name(out_transport), host, env->port, branch) != 0)
        goto too_many_edits;
    if (rr) {
        const struct sip_hdr *rrh = sip_hdr_find(m, SH_RECORD_ROUTE, 0);
        n = record_route_lines(host, env->port, job->transport, out_transport, rrbuf,
                               sizeof(rrbuf));
        if (n < 0 || (size_t)n >= sizeof(rrbuf) ||
            sip_edit_insert(ed, rrh ? rrh->line_off : topvia->line_off, rrbuf, (size_t)n) != 0)
            goto too_many_edits;
    }
    o->len = sip_splice(m->buf, m->len, ed, out, SW_OUT_MAX);
    if (o->len == (size_t)-1)
        goto too_many_edits;
    o->trunk = trunk;
    limit = out_transport == SW_UDP ? umax : SIP_MAX_MSG;
    if (o->len > limit) {
        sw_addr_ip((const struct sockaddr *)&job->src, src_ip, sizeof(src_ip), &src_port);
        snprintf(o->why, sizeof(o->why),
                 "%.*s from %s:%d (trunk %s) would leave at %zu bytes, over the %zu that %s "
                 "toward %s allows",
                 (int)m->method_len, m->buf + m->method_off, src_ip, src_port, trunk->name, o->len,
                 limit, transport_name(out_transport), hop->uri);
        if (sip_is_method(m, "ACK")) {
            o->act = SW_ACT_DROP;
            o->len = 0;
            st->dropped_malformed++;
            return;
        }
        job->call.reply_status = 513;
        snprintf(job->call.reply_reason, sizeof(job->call.reply_reason), "Message Too Large");
        job->call.reply_headers[0] = '\0';
        reply(env, m->buf, m->len, (const struct sockaddr *)&job->src, job->srclen, job->transport,
              513, "Message Too Large", NULL, out, o, st);
        st->replied_513++;
        return;
    }
    o->act = SW_ACT_FORWARD;
    memcpy(&o->dst, &hop->addr, hop->addrlen);
    o->dstlen = hop->addrlen;
    o->transport = out_transport;
    st->forwarded_requests++;
    if (env->verbose) {
        sw_addr_ip((const struct sockaddr *)&job->src, src_ip, sizeof(src_ip), &src_port);
        snprintf(o->why, sizeof(o->why), "%.*s from %s:%d (trunk %s) to %s%s%.160s",
                 (int)m->method_len, m->buf + m->method_off, src_ip, src_port, trunk->name,
                 hop->uri, job->notes[0] ? ": " : "", job->notes);
    }
    return;

too_many_edits:
    sw_addr_ip((const struct sockaddr *)&job->src, src_ip, sizeof(src_ip), &src_port);
    snprintf(o->why, sizeof(o->why), "request from %s:%d needs more edits than we allow", src_ip,
             src_port);
    job->call.reply_status = 500;
    snprintf(job->call.reply_reason, sizeof(job->call.reply_reason), "Server Internal Error");
    job->call.reply_headers[0] = '\0';
    reply(env, m->buf, m->len, (const struct sockaddr *)&job->src, job->srclen, job->transport, 500,
          "Server Internal Error", NULL, out, o, st);
    st->replied_500++;
}

/* --- responses ------------------------------------------------------------------------ */

/*
 * Recognises the Via we wrote ("SIP/2.0/UDP host:port;branch=z9hG4bK-sw...") by its bytes:
 * RFC 3261 lets the next hop only append parameters to it, so in practice the prefix is
 * ours verbatim, and one comparison replaces a libosip2 parse (about a microsecond of
 * allocations) per response. Anything unexpected returns 0 and takes the full parse.
 * Fills v->more the way sip_via_parse() does; other fields are left empty.
 */
static int our_via_fast(const struct sw_proxy_env *env, const struct sip_msg *m,
                        const struct sip_hdr *top, struct sip_via *v)
{
    const char *p = m->buf + top->value_off, *end = p + top->value_len, *comma;
    char sig[300];
    int n;

    if (top->value_len < 12 || strncasecmp(p, "SIP/2.0/", 8) != 0)
        return 0;
    p += 8;
    if ((strncasecmp(p, "UDP ", 4) != 0 && strncasecmp(p, "TCP ", 4) != 0))
        return 0;
    p += 4;
    n = snprintf(sig, sizeof(sig), "%s%s%s:%d;branch=" OUR_BRANCH,
                 strchr(env->host, ':') ? "[" : "", env->host, strchr(env->host, ':') ? "]" : "",
                 env->port);
    if (n <= 0 || (size_t)n >= sizeof(sig) || end - p < n || memcmp(p, sig, (size_t)n) != 0)
        return 0;
    memset(v, 0, sizeof(*v));
    /* our value holds no quotes or commas: the first comma ends it */
    comma = memchr(p, ',', (size_t)(end - p));
    v->more = comma != NULL;
    v->value_len = (size_t)((comma ? comma : end) - (m->buf + top->value_off));
    return 1;
}

/* The response chain and its outcome; for a new response and for a resumed one. */
static void run_response(const struct sw_proxy_env *env, struct sw_job *job, char *out,
                         struct sw_out *o, struct sw_stats *st)
{
    const struct sip_msg *m = &job->msg;
    const struct swf_filter *by;
    char src_ip[64], dst_ip[64];
    int src_port, dst_port;
    swf_result r;

    o->trunk = job->call.trunk;
    r = sw_pipeline_run(job, &by);
    o->park_refused = job->park_refused;
    if (r == SWF_WAIT) {
        o->act = SW_ACT_PARKED;
        return;
    }
    if (r != SWF_CONTINUE) {
        snprintf(o->why, sizeof(o->why), "%d response dropped by filter %s", m->status,
                 by ? by->name : "?");
        st->dropped_by_filter++;
        return;
    }
    o->len = sip_splice(m->buf, m->len, &job->edits, out, SW_OUT_MAX);
    if (o->len == (size_t)-1) {
        sw_addr_ip((const struct sockaddr *)&job->src, src_ip, sizeof(src_ip), &src_port);
        snprintf(o->why, sizeof(o->why), "%d response from %s:%d has no usable Via below ours",
                 m->status, src_ip, src_port);
        st->dropped_malformed++;
        return;
    }
    o->act = SW_ACT_FORWARD;
    memcpy(&o->dst, &job->route.dst, job->route.dstlen);
    o->dstlen = job->route.dstlen;
    o->transport = job->route.transport;
    o->connect_port = job->route.transport == SW_TCP ? job->route.connect_port : 0;
    st->forwarded_responses++;
    if (env->verbose) {
        sw_addr_ip((const struct sockaddr *)&job->src, src_ip, sizeof(src_ip), &src_port);
        sw_addr_ip((const struct sockaddr *)&o->dst, dst_ip, sizeof(dst_ip), &dst_port);
        snprintf(o->why, sizeof(o->why), "%d response from %s:%d to %s:%d", m->status, src_ip,
                 src_port, dst_ip, dst_port);
    }
}

static void handle_response(const struct sw_proxy_env *env, struct sw_job *job,
                            const struct sw_rx *rx, char *out, struct sw_out *o,
                            struct sw_stats *st)
{
    const struct sip_msg *m = &job->msg;
    const struct sip_hdr *top = sip_hdr_find(m, SH_VIA, 0), *next;
    struct sip_hdr rest;
    struct sip_via v, nv;
    struct sip_edits *ed = &job->edits;
    char src_ip[64];
    int src_port, port;

    st->responses++;
    sw_addr_ip(rx->src, src_ip, sizeof(src_ip), &src_port);
    o->act = SW_ACT_DROP;
    if (top != NULL && our_via_fast(env, m, top, &v))
        ; /* the Via we wrote, recognised without a full parse */
    else if (top == NULL || sip_via_parse(m, top, &v) != 0 || !is_us(env, v.host, v.port) ||
             strncmp(v.branch, OUR_BRANCH, strlen(OUR_BRANCH)) != 0) {
        snprintf(o->why, sizeof(o->why), "%d response from %s:%d: top Via is not ours", m->status,
                 src_ip, src_port);
        st->dropped_not_ours++;
        return;
    }
    /* response hooks of the trunk the response comes from (none when no trunk matches) */
    sw_job_start(job, env->cfg, sw_config_match(env->cfg, rx->src, NULL), rx->src, rx->srclen,
                 rx->transport, rx->now, env->ctx, env->waitq, st);
    job->verbose = env->verbose;
    if (v.more) {
        /* our Via shares its line with the next one: remove just our value and its comma */
        if (sip_via_rest(m, top, &v, &rest) != 0 || sip_via_parse(m, &rest, &nv) != 0 ||
            sip_edit_delete(ed, top->value_off, rest.value_off - top->value_off) != 0)
            goto bad_next;
    } else {
        if ((next = sip_hdr_find(m, SH_VIA, 1)) == NULL || sip_via_parse(m, next, &nv) != 0 ||
            sip_edit_delete(ed, top->line_off, top->line_len) != 0)
            goto bad_next;
    }
    /*
     * RFC 3581: received and rport, else the sent-by. Over TCP (RFC 3261 section 18.2.2)
     * received:rport names the connection the request came in on (mark_received put the
     * source port there); when it is no longer open, the response goes on a new
     * connection to the sent-by port at the received address.
     */
    port = nv.rport > 0 ? nv.rport : (nv.port ? nv.port : 5060);
    job->route.connect_port = nv.port ? nv.port : 5060;
    if (sw_addr_from_ip(nv.received[0] ? nv.received : nv.host, port, &job->route.dst,
                        &job->route.dstlen) != 0) {
        snprintf(o->why, sizeof(o->why),
                 "%d response: next Via host %.64s is a name; we resolve no names per message",
                 m->status, nv.host);
        st->dropped_not_ours++;
        return;
    }
    if (!sw_addr_unicast((const struct sockaddr *)&job->route.dst)) {
        /* RFC 4475 3.3.10: a response is never sent to a broadcast or multicast address */
        snprintf(o->why, sizeof(o->why),
                 "%d response from %s:%d: next Via %.64s is not a unicast address", m->status,
                 src_ip, src_port, nv.received[0] ? nv.received : nv.host);
        st->dropped_bad_next_via++;
        return;
    }
    if (strcasecmp(nv.transport, "UDP") == 0)
        job->route.transport = SW_UDP;
    else if (strcasecmp(nv.transport, "TCP") == 0)
        job->route.transport = SW_TCP;
    else {
        snprintf(o->why, sizeof(o->why), "%d response: next Via transport %s is not supported",
                 m->status, nv.transport);
        st->dropped_not_ours++;
        return;
    }
    run_response(env, job, out, o, st);
    return;

bad_next:
    snprintf(o->why, sizeof(o->why), "%d response from %s:%d has no usable Via below ours",
             m->status, src_ip, src_port);
    st->dropped_malformed++;
}

/* --- entry ---------------------------------------------------------------------------- */

/*
 * What to answer bytes that did not parse: 0 when nothing (a response, an ACK, no line
 * end, or a first line that does not start with a method and a space), 505 when the
 * request line names a SIP version other than 2.0 (RFC 3261 21.5.15; RFC 4475 3.1.2.16),
 * else 400: every malformed request that can be answered gets one, white-space oddities
 * in the request line included (RFC 4475 3.1.2.8 to 3.1.2.10). reply() still drops one
 * without a Via.
 */
static int malformed_status(const char *buf, size_t len)
{
    const char *eol = memchr(buf, '\n', len), *sp, *v;
    size_t n, i;

    if (eol == NULL || len < 4 || strncasecmp(buf, "SIP/", 4) == 0 || strncmp(buf, "ACK ", 4) == 0)
        return 0;
    n = (size_t)(eol - buf);
    for (i = 0; i < n && is_token_char(buf[i]); i++)
        ;
    if (i == 0 || i == n || buf[i] != ' ')
        return 0;
    while (n > 0 && (buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        n--;
    for (sp = buf + n; sp > buf && sp[-1] != ' ' && sp[-1] != '\t'; sp--)
        ;
    v = sp;
    if ((size_t)(buf + n - v) > 4 && strncasecmp(v, "SIP/", 4) == 0 &&
        !((size_t)(buf + n - v) == 7 && strncasecmp(v, "SIP/2.0", 7) == 0))
        return 505;
    return 400;
}

void sw_proxy_handle(const struct sw_proxy_env *env, const struct sw_rx *rx, char *out,
                     struct sw_out *o, struct sw_stats *st)
{
    /* the message's whole life, unless a filter parks it (then a heap copy takes over) */
    struct sw_job job;
    char err[160];
    int status;

    memset(o, 0, sizeof(*o));
    o->act = SW_ACT_DROP;
    st->received++;
    if (sip_parse(&job.msg, rx->buf, rx->len, err, sizeof(err)) != 0) {
        char ip[64];
        int port;
        sw_addr_ip(rx->src, ip, sizeof(ip), &port);
        snprintf(o->why, sizeof(o->why), "malformed message from %s:%d: %s", ip, port, err);
        if ((status = malformed_status(rx->buf, rx->len)) != 0) {
            /* reply() counts the drop itself when no reply can be built */
            reply(env, rx->buf, rx->len, rx->src, rx->srclen, rx->transport, status,
                  status == 505 ? "Version Not Supported" : "Bad Request", NULL, out, o, st);
            if (o->act == SW_ACT_REPLY && status == 505)
                st->replied_505++;
            else if (o->act == SW_ACT_REPLY)
                st->replied_400++;
            return;
        }
        st->dropped_malformed++;
        return;
    }
    if (job.msg.is_request)
        handle_request(env, &job, rx, out, o, st);
    else
        handle_response(env, &job, rx, out, o, st);
}

void sw_proxy_resume(const struct sw_proxy_env *env, struct sw_job *job, char *out,
                     struct sw_out *o, struct sw_stats *st)
{
    memset(o, 0, sizeof(*o));
    o->act = SW_ACT_DROP;
    if (job->msg.is_request)
        run_request(env, job, out, o, st);
    else
        run_response(env, job, out, o, st);
}
