/*
 * pub.c - GET|HEAD /v1/pub/<file>: the certificates (and CRLs) of pub_dir, served as x5u.
 *
 * secsipidx -http-dir hands the directory to Go's http.FileServer, which lists
 * directories, serves hidden files and follows symbolic links wherever they point. We
 * serve less on purpose: a regular file beneath the directory, reached without a single
 * symbolic link, named without any component that starts with '.', at most
 * SW_PUB_MAX_SIZE bytes. Everything refused looks the same from outside (one 404 body),
 * so a request cannot probe what exists; only a name that cannot be a file name at all
 * gets 400.
 *
 * Two layers guard the name, and both must hold on their own:
 *  1. lexical checks of the decoded path and of the raw path (no "..", no empty
 *     component, no encoded '.', '/' or '\\' that a server or proxy in front might decode
 *     differently from us);
 *  2. the open itself: openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS)
 *     on the directory descriptor, or, on kernels before 5.6 (or where seccomp hides
 *     openat2), a walk that opens each directory with O_NOFOLLOW|O_DIRECTORY and the file
 *     with O_NOFOLLOW. The kernel, not string handling, has the last word.
 * The rule not to break: never build a path string from pub_dir and the name.
 */
#define _GNU_SOURCE
#include "pub.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(SYS_openat2) && defined(__has_include)
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define SW_HAVE_OPENAT2 1
#endif
#endif

/* The longest name accepted after /v1/pub/, in bytes (a certificate path is short). */
#define SW_PUB_MAX_NAME 1024

/*
 * Content types. PEM is served as application/x-pem-file, the
 * type our own test HTTPS server (tests/integration/https_server.py) and most CDNs use for
 * x5u files. secsipidx does not have a fixed answer: Go's mime package takes the host's
 * MIME database, so on a Debian host with shared-mime-info it says
 * application/x-x509-ca-cert (freedesktop globs2) and with only /etc/mime.types it would
 * say application/pem-certificate-chain. No x5u consumer we know of (our verifier,
 * secsipidx -check, libsecsipid, Kamailio's secsipid module) looks at the type, so we pick
 * the stable one and do not copy a value that changes with the packages installed.
 * DER certificates and CRLs get their RFC 2585 types.
 */
const char *sw_pub_content_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".pem", "application/x-pem-file"}, {".crt", "application/x-pem-file"},
        {".cer", "application/x-pem-file"}, {".der", "application/pkix-cert"},
        {".crl", "application/pkix-crl"},
    };
    const char *base = strrchr(name, '/');
    const char *dot;

    base = base != NULL ? base + 1 : name;
    if ((dot = strrchr(base, '.')) != NULL && dot != base) {
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot, types[i].ext) == 0)
                return types[i].type;
    }
    return "application/octet-stream";
}

int sw_pub_open_dir(const char *path, char *err, size_t errlen)
{
    int fd;

    if (path == NULL || *path == '\0') {
        if (errlen > 0)
            snprintf(err, errlen, "pub_dir: empty path");
        return -1;
    }
    if ((fd = open(path, O_DIRECTORY | O_PATH | O_CLOEXEC)) < 0) {
        if (errlen > 0)
            snprintf(err, errlen, "pub_dir %s: %s", path, strerror(errno));
        return -1;
    }
    return fd;
}

/* The final open of a file, both ways: read-only, no controlling tty, and non-blocking so
 * that a FIFO someone left in pub_dir cannot hold a server thread until a writer comes. */
#define SW_PUB_OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK)

/* The walk: every directory on the way with O_NOFOLLOW|O_DIRECTORY (a symbolic link gives
 * ENOTDIR or ELOOP), the last component with O_NOFOLLOW (ELOOP). NAME has no "." or ".."
 * component (the caller's lexical checks), so nothing can climb above DIRFD. */
static int open_walk(int dirfd, const char *name)
{
    char buf[SW_PUB_MAX_NAME + 1];
    char *comp, *slash;
    int cur = dirfd, fd;
    size_t len = strlen(name);

    if (len > SW_PUB_MAX_NAME) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, name, len + 1);
    comp = buf;
    while ((slash = strchr(comp, '/')) != NULL) {
        struct stat st;
        int next;

        *slash = '\0';
        next = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (cur != dirfd)
            close(cur);
        if (next < 0)
            return -1;
        /* O_PATH|O_NOFOLLOW may open a symbolic link itself; O_DIRECTORY should refuse
         * that, and this makes sure of it rather than trusting one flag's corner case. */
        if (fstat(next, &st) != 0 || !S_ISDIR(st.st_mode)) {
            close(next);
            errno = ENOTDIR;
            return -1;
        }
        cur = next;
        comp = slash + 1;
    }
    fd = openat(cur, comp, SW_PUB_OPEN_FLAGS);
    if (cur != dirfd) {
        int saved = errno;
        close(cur);
        errno = saved;
    }
    return fd;
}

int sw_pub_open_file(int dirfd, const char *name, enum sw_pub_resolve how)
{
    int fd = -1, flags;

#ifdef SW_HAVE_OPENAT2
    if (how == SW_PUB_RESOLVE_AUTO) {
        struct open_how oh;

        memset(&oh, 0, sizeof oh);
        oh.flags = SW_PUB_OPEN_FLAGS;
        oh.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
        fd = (int)syscall(SYS_openat2, dirfd, name, &oh, sizeof oh);
        /* ENOSYS: a kernel before 5.6; EPERM: a seccomp filter (older container runtimes)
         * that does not know the call. Anything else is openat2's verdict on the name. */
        if (fd < 0 && errno != ENOSYS && errno != EPERM)
            return -1;
    }
#else
    (void)how;
#endif
    if (fd < 0 && (fd = open_walk(dirfd, name)) < 0)
        return -1;
    /* O_NONBLOCK was for the open only; a regular file ignores it, but the server may hand
     * the descriptor to anything, so it leaves here as an ordinary blocking one. */
    if ((flags = fcntl(fd, F_GETFL)) == -1 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* Lexical checks of the decoded name: 0 = may be opened, else the HTTP status (400, 404). */
static int check_name(const char *name)
{
    size_t len = strlen(name), complen = 0;

    if (len > SW_PUB_MAX_NAME)
        return 400;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f || c == '\\')
            return 400;
    }
    if (len == 0 || name[0] == '/')
        return 404;
    for (size_t i = 0; i <= len; i++) {
        if (name[i] == '/' || name[i] == '\0') {
            if (complen == 0) /* "a//b", a trailing '/' (a directory asked as one) */
                return 404;
            if (complen > NAME_MAX)
                return 400;
            complen = 0;
        } else if (complen++ == 0 && name[i] == '.') { /* ".", "..", hidden files */
            return 404;
        }
    }
    return 0;
}

/*
 * Checks of the path as sent. The server decodes it once; a proxy in front of us, or a
 * second decode anywhere, must not be able to turn an innocent-looking name into "../" or
 * a hidden file, so encoded '.', '/' and '\\' are refused outright (no certificate needs
 * them), and %00 is malformed (the decoded C string would end there). A component that
 * starts with '.' or is empty in the raw form is refused too, in case the server
 * normalized it away before decoding.
 */
static int check_raw(const char *raw)
{
    static const char *const refused[] = {"%2e", "%2f", "%5c"};

    for (const char *p = raw; (p = strchr(p, '%')) != NULL; p++) {
        if (strncasecmp(p, "%00", 3) == 0)
            return 400;
        for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
            if (strncasecmp(p, refused[i], 3) == 0)
                return 404;
    }
    if (strchr(raw, '\\') != NULL)
        return 400;
    if (strstr(raw, "//") != NULL || strstr(raw, "/.") != NULL)
        return 404;
    return 0;
}

/* Appends "Name: value\r\n" lines to resp->headers, keeping what is there. */
static void add_header(struct sw_http_resp *resp, const char *line)
{
    size_t used = strnlen(resp->headers, sizeof resp->headers);

    if (used < sizeof resp->headers)
        snprintf(resp->headers + used, sizeof resp->headers - used, "%s", line);
}

/* An RFC 9110 section 5.6.7 IMF-fixdate, without strftime so that no locale can change
 * the day and month names. */
static void http_date(time_t t, char *out, size_t outlen)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL) {
        out[0] = '\0';
        return;
    }
    snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Every 404 says the same, whatever the reason, so that the answer reveals nothing. */
static enum sw_http_rc not_found(struct sw_http_resp *resp)
{
    sw_http_error(resp, 404, "not_found", "no file to serve at this path");
    return SW_HTTP_DONE;
}

enum sw_http_rc sw_api_pub(const struct sw_api *api, struct sw_http_req *req,
                           struct sw_http_resp *resp)
{
    const size_t plen = sizeof SW_PUB_PREFIX - 1;
    const char *name, *raw;
    struct stat st;
    char date[40], line[128];
    int fd, rc;

    resp->fd = -1;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        sw_http_error(resp, 405, "method_not_allowed", "%s: only GET and HEAD", req->method);
        add_header(resp, "Allow: GET, HEAD\r\n");
        return SW_HTTP_DONE;
    }
    if (strncmp(req->path, SW_PUB_PREFIX, plen) != 0)
        return not_found(resp);
    name = req->path + plen;
    raw = req->raw_path != NULL ? req->raw_path : req->path;
    /* The malformed ones first: 400 wins over 404 whichever check sees it. */
    rc = check_name(name);
    if (rc != 400) {
        int rr = check_raw(raw);
        if (rr != 0)
            rc = rr;
    }
    if (rc == 400) {
        sw_http_error(resp, 400, "bad_path", "not a file name");
        return SW_HTTP_DONE;
    }
    if (rc != 0 || api->pub_dirfd < 0)
        return not_found(resp);

    if ((fd = sw_pub_open_file(api->pub_dirfd, name, SW_PUB_RESOLVE_AUTO)) < 0)
        return not_found(resp);
    /* A directory, FIFO, socket or device is not a file to serve; a file larger than any
     * certificate chain is refused rather than streamed. */
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
        st.st_size > SW_PUB_MAX_SIZE) {
        close(fd);
        return not_found(resp);
    }

    resp->status = 200;
    resp->content_type = sw_pub_content_type(name);
    resp->body = NULL;
    resp->body_len = 0;
    resp->fd = fd;
    resp->fd_size = (uint64_t)st.st_size;
    /*
     * One hour. Verifiers cache an x5u certificate as long as its Cache-Control allows
     * (ATIS-1000074 has them cache; ours keeps it at least 24 h by default whatever we
     * say, see DESIGN.md), so this value speaks to the others: an hour keeps repeat
     * fetches rare while a renewed certificate dropped into pub_dir reaches them within
     * the hour. Operators who want longer put a CDN in front.
     */
    add_header(resp, "Cache-Control: max-age=3600\r\n");
    http_date(st.st_mtime, date, sizeof date);
    if (date[0] != '\0') {
        snprintf(line, sizeof line, "Last-Modified: %s\r\n", date);
        add_header(resp, line);
    }
    add_header(resp, "X-Content-Type-Options: nosniff\r\n");
    return SW_HTTP_DONE;
}
