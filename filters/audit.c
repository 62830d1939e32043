/*
 * audit.c - the `audit` filter: one JSON line per INVITE, saying who called whom, what the
 * PASSporT said, what verification or signing concluded and what became of the call.
 *
 * The record is written from the done hook (filter.h), which the engine calls once the
 * request's fate is known, for every filter of the chain; so a call that verify rejected,
 * before the chain reached audit, is logged too, with its status and Reason. Other
 * methods are not logged (a CANCEL or ACK adds nothing the INVITE's line did not say).
 *
 * Output (audit = { output = "stdout" | "syslog" | PATH; }, default stdout):
 *  - PATH: opened in configure() with O_WRONLY|O_APPEND|O_CREAT, mode 0640. Each record is
 *    one write() of the whole line with its "\n": with O_APPEND every write lands at the
 *    file's end as a unit, so the workers, which all write to the one descriptor, never
 *    interleave lines. configure() runs again on every reload (SIGHUP builds a whole new
 *    configuration), which opens PATH again: after logrotate has moved the file away, the
 *    new configuration writes to a new file at PATH, and the old descriptor is closed when
 *    the old configuration is freed (its last parked message gone). So logrotate needs
 *    only "postrotate kill -HUP ..." (or copytruncate). The directory must stay writable by
 *    the user stirwired runs as, or the reload fails and the old configuration stays in
 *    force, still writing to the moved file.
 *  - "syslog": syslog(LOG_DAEMON | LOG_INFO), one message a record, without the newline;
 *    the facility is the daemon's even when its own log goes to stderr.
 *  - "stdout": the line on descriptor 1 (the journal under systemd). When that is a socket
 *    (journald's stream) it is sent with MSG_DONTWAIT, so a stalled reader costs a lost
 *    record, not a stalled worker.
 * A record that cannot be written whole is counted (write_failed) and forgotten: the
 * message it describes has already been forwarded or answered and never waits for it.
 *
 * Rule: the configured state is shared read-only by every worker; the descriptor is only
 * written, never moved or reopened while traffic flows.
 */
#define _GNU_SOURCE /* MSG_NOSIGNAL */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "../src/core/addr.h"
#include "../src/core/filter.h"
#include "../src/core/trunk.h"
#include "../src/sip/fields.h"

enum { AUDIT_RECORDS, AUDIT_WRITE_FAILED };
static const char *const audit_counters[] = {"records", "write_failed", NULL};

static const char *const audit_settings[] = {"output", NULL};

enum audit_out { AUDIT_STDOUT, AUDIT_SYSLOG, AUDIT_FILE };

struct audit_conf {
    enum audit_out out;
    int fd; /* AUDIT_FILE: ours, closed in audit_free; else -1 */
};

/* --- reading the settings --------------------------------------------------------------- */

static int audit_configure(struct swf_conf *fc, void **state)
{
    struct audit_conf *ac;
    const char *v = "stdout";

    *state = NULL;
    if (fc->group != NULL && swf_get_string(fc, fc->group, "audit", "output", &v) < 0)
        return -1;
    if ((ac = calloc(1, sizeof(*ac))) == NULL) {
        swf_error(fc, NULL, "audit: out of memory");
        return -1;
    }
    ac->fd = -1;
    if (strcmp(v, "stdout") == 0) {
        ac->out = AUDIT_STDOUT;
    } else if (strcmp(v, "syslog") == 0) {
        ac->out = AUDIT_SYSLOG;
    } else if (v[0] == '\0') {
        swf_error(fc, config_setting_get_member(fc->group, "output"),
                  "audit.output: must be \"stdout\", \"syslog\" or a file path");
    } else {
        ac->out = AUDIT_FILE;
        /* opened here, at load or reload: see the file's comment on logrotate */
        if ((ac->fd = open(v, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) < 0)
            swf_error(fc, config_setting_get_member(fc->group, "output"),
                      "audit.output: cannot open \"%s\": %s", v, strerror(errno));
    }
    if (swf_errors(fc) > 0) {
        if (ac->fd >= 0)
            close(ac->fd);
        free(ac);
        return -1;
    }
    *state = ac;
    return 0;
}

static void audit_free(void *state)
{
    struct audit_conf *ac = state;

    if (ac == NULL)
        return;
    if (ac->fd >= 0)
        close(ac->fd);
    free(ac);
}

/* --- the record ------------------------------------------------------------------------- */

/* A string member, or null when s is empty. */
static void set_str(json_t *o, const char *key, const char *s)
{
    json_object_set_new(o, key, s != NULL && s[0] != '\0' ? json_string(s) : json_null());
}

/* A string member from message bytes (not NUL-terminated), null when empty. */
static void set_bytes(json_t *o, const char *key, const char *p, size_t n)
{
    json_t *s = n > 0 ? json_stringn(p, n) : NULL; /* NULL also when not UTF-8 */

    json_object_set_new(o, key, s != NULL ? s : json_null());
}

/*
 * The record's time: call->now in ISO 8601 UTC with milliseconds. now is whole seconds
 * (the socket's clock, or a packet's capture time in the TAP); the milliseconds come from
 * the wall clock when it agrees with now to the second (live traffic), else they are .000
 * (a capture replayed later: its own time is what counts).
 */
static void iso_time(int64_t now, char *out, size_t size)
{
    struct timespec ts;
    time_t t = (time_t)now;
    struct tm tm;
    long ms = 0;

    if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && (int64_t)ts.tv_sec == now)
        ms = ts.tv_nsec / 1000000;
    if (gmtime_r(&t, &tm) == NULL)
        memset(&tm, 0, sizeof(tm));
    snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

/* The value of the "Reason:" line in extra header lines (each ending in CRLF), or n = 0. */
static const char *reason_header(const char *lines, size_t *n)
{
    const char *p = lines, *e;

    for (; p != NULL && *p != '\0'; p = e[0] != '\0' ? e + 1 : e) {
        if ((e = strchr(p, '\n')) == NULL)
            e = p + strlen(p);
        if (strncasecmp(p, "Reason:", 7) == 0) {
            p += 7;
            while (*p == ' ' || *p == '\t')
                p++;
            *n = (size_t)(e - p);
            while (*n > 0 && (p[*n - 1] == '\r' || p[*n - 1] == ' '))
                (*n)--;
            return p;
        }
    }
    *n = 0;
    return NULL;
}

static json_t *build_record(const struct swf_call *call, swf_result result)
{
    const struct sip_msg *m = call->msg;
    const struct swf_verdict *v = &call->verdict;
    const struct sip_hdr *h;
    json_t *o = json_object();
    char when[80], ip[64], src[SW_ADDR_STRLEN], tn[SW_TN_MAX], att[2] = {v->attest, '\0'};
    const char *reason;
    size_t rn;
    int port;

    if (o == NULL)
        return NULL;
    iso_time(call->now, when, sizeof(when));
    json_object_set_new(o, "time", json_string(when));
    src[0] = '\0';
    if (call->src != NULL) {
        sw_addr_ip(call->src, ip, sizeof(ip), &port);
        if (ip[0] != '\0')
            snprintf(src, sizeof(src), strchr(ip, ':') ? "[%s]:%d" : "%s:%d", ip, port);
    }
    set_str(o, "src", src);
    set_str(o, "transport",
            call->transport == SW_TCP   ? "tcp"
            : call->transport == SW_UDP ? "udp"
                                        : "");
    set_str(o, "trunk", call->trunk != NULL ? call->trunk->name : NULL);
    h = sip_hdr_find(m, SH_CALL_ID, 0);
    set_bytes(o, "call_id", h ? m->buf + h->value_off : NULL, h ? h->value_len : 0);
    set_bytes(o, "method", m->buf + m->method_off, m->method_len);
    /* the verdict's numbers; without a sign or verify filter, the message's own */
    if (v->orig[0] != '\0')
        set_str(o, "orig", v->orig);
    else
        set_str(o, "orig", sip_orig_number(m, tn, sizeof(tn)) == 0 ? tn : NULL);
    if (v->dest[0] != '\0')
        set_str(o, "dest", v->dest);
    else
        set_str(o, "dest", sip_dest_number(m, 0, tn, sizeof(tn)) == 0 ? tn : NULL);
    set_str(o, "attest", att);
    set_str(o, "origid", v->origid);
    set_str(o, "x5u", v->x5u);
    set_str(o, "spc", v->spc);
    json_object_set_new(o, "iat", v->iat != 0 ? json_integer((json_int_t)v->iat) : json_null());
    json_object_set_new(o, "iat_age",
                        v->iat != 0 ? json_integer((json_int_t)(call->now - v->iat)) : json_null());
    json_object_set_new(o, "verified", json_boolean(v->verified));
    json_object_set_new(o, "signed_here", json_boolean(v->signed_here));
    set_str(o, "verstat", v->verstat);
    set_str(o, "error", v->err != SW_OK ? sw_err_name(v->err) : NULL);
    set_str(o, "detail", v->detail);
    json_object_set_new(o, "sip_status",
                        result == SWF_REPLY && call->reply_status > 0
                            ? json_integer(call->reply_status)
                            : json_null());
    /* RFC 9410's Reason line when there is one, else the reply's own phrase */
    reason = result == SWF_REPLY ? reason_header(call->reply_headers, &rn) : NULL;
    if (reason != NULL)
        set_bytes(o, "reason", reason, rn);
    else
        set_str(o, "reason", result == SWF_REPLY ? call->reply_reason : NULL);
    json_object_set_new(o, "rejected", json_boolean(result == SWF_REPLY));
    json_object_set_new(o, "result",
                        json_string(call->observe            ? "observed"
                                    : result == SWF_CONTINUE ? "forwarded"
                                    : result == SWF_REPLY    ? "rejected"
                                                             : "dropped"));
    set_str(o, "div", v->has_div ? v->div_tn : NULL);
    return o;
}

/* --- writing ---------------------------------------------------------------------------- */

/* Writes line[0..n) (ending in "\n") in one call. 0, or -1 when not all of it went. */
static int write_line(const struct audit_conf *ac, const char *line, size_t n)
{
    ssize_t w;

    switch (ac->out) {
    case AUDIT_SYSLOG:
        syslog(LOG_DAEMON | LOG_INFO, "%.*s", (int)(n - 1), line);
        return 0;
    case AUDIT_STDOUT:
        do
            w = send(STDOUT_FILENO, line, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        while (w < 0 && errno == EINTR);
        if (w < 0 && errno == ENOTSOCK) {
            do
                w = write(STDOUT_FILENO, line, n);
            while (w < 0 && errno == EINTR);
        }
        return w == (ssize_t)n ? 0 : -1;
    case AUDIT_FILE:
    default:
        /* no retry after a partial write: a second write could land after another line */
        do
            w = write(ac->fd, line, n);
        while (w < 0 && errno == EINTR);
        return w == (ssize_t)n ? 0 : -1;
    }
}

static void audit_done(void *state, struct swf_call *call, swf_result result,
                       const struct swf_filter *by)
{
    const struct audit_conf *ac = state;
    json_t *rec;
    char buf[4096], *heap = NULL, *line = NULL;
    size_t n;
    int ok = 0;

    (void)by;
    if (!call->msg->is_request || !sip_is_method(call->msg, "INVITE"))
        return;
    if ((rec = build_record(call, result)) != NULL) {
        /* a record fits the stack buffer; a huge Call-ID or detail takes the heap */
        n = json_dumpb(rec, buf, sizeof(buf) - 1, JSON_COMPACT);
        if (n > 0 && n < sizeof(buf) - 1) {
            line = buf;
        } else if (n > 0 && (heap = malloc(n + 1)) != NULL &&
                   json_dumpb(rec, heap, n, JSON_COMPACT) == n) {
            line = heap;
        }
        if (line != NULL) {
            line[n++] = '\n'; /* the newline goes in the same write as the record */
            ok = write_line(ac, line, n) == 0;
        }
    }
    free(heap);
    json_decref(rec);
    swf_count(call, ok ? AUDIT_RECORDS : AUDIT_WRITE_FAILED);
}

const struct swf_filter swf_audit = {
    .name = "audit",
    .settings = audit_settings,
    .counters = audit_counters,
    .configure = audit_configure,
    .request = NULL, /* everything happens in done, once the call's fate is known */
    .response = NULL,
    .free = audit_free,
    .done = audit_done,
};
