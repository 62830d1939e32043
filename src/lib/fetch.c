/*
 * fetch.c - the x5u / CRL fetch policy: which URLs may be fetched, and a libcurl
 * easy handle set up so that a hostile URL cannot turn us against our own network.
 *
 * The URL in info comes from whoever sent the INVITE. By default we fetch https only,
 * from port 443 or 8443, with no userinfo, query or fragment, no redirects, a size cap
 * and timeouts; and the address curl actually connects to is checked (not the name),
 * so a DNS answer of 127.0.0.1 or 10.x is refused however the name was spelled (a
 * literal address in the URL goes through the same check: curl opens every socket through
 * open_socket()). Each rule can be relaxed for a lab through sw_verifier_set_long(), and
 * SW_OPT_ALLOW_NETS lets chosen special networks through without allowing them all.
 */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sw_int.h"
#include "verifier.h"

sw_err swi_url_allowed(sw_ctx *ctx, const struct swi_policy *pol, const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *port = NULL, *user = NULL, *query = NULL, *frag = NULL, *pw = NULL;
    sw_err err = SW_OK;
    long portnum;

    if (u == NULL)
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    if (url == NULL || strlen(url) > 2048 ||
        curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
        curl_url_cleanup(u);
        return swi_fail(ctx, SW_ERR_CERT_URL, "info URL \"%.200s\" is not a valid URL",
                        url ? url : "");
    }
    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    curl_url_get(u, CURLUPART_USER, &user, 0);
    curl_url_get(u, CURLUPART_PASSWORD, &pw, 0);
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0);
    portnum = port ? strtol(port, NULL, 10) : 0;
    if (scheme == NULL ||
        (strcasecmp(scheme, "https") != 0 && !(pol->allow_http && strcasecmp(scheme, "http") == 0)))
        err = swi_fail(ctx, SW_ERR_CERT_URL, "info URL scheme %s is not allowed (https only%s)",
                       scheme ? scheme : "(none)", pol->allow_http ? " or http" : "");
    else if (!pol->allow_any_port && portnum != 443 && portnum != 8443)
        err = swi_fail(ctx, SW_ERR_CERT_URL, "info URL port %ld is not allowed (443 or 8443)",
                       portnum);
    else if (!pol->allow_query && (user != NULL || pw != NULL))
        err = swi_fail(ctx, SW_ERR_CERT_URL, "info URL carries user information");
    else if (!pol->allow_query && (query != NULL || frag != NULL))
        err = swi_fail(ctx, SW_ERR_CERT_URL, "info URL carries a %s",
                       query ? "query string" : "fragment");
    curl_free(scheme);
    curl_free(port);
    curl_free(user);
    curl_free(pw);
    curl_free(query);
    curl_free(frag);
    curl_url_cleanup(u);
    return err;
}

/* Loopback, private, link-local, CGNAT, documentation, multicast, reserved. */
static int special_v4(const unsigned char a[4])
{
    return a[0] == 0 || a[0] == 10 || a[0] == 127 || (a[0] == 100 && (a[1] & 0xc0) == 64) ||
           (a[0] == 169 && a[1] == 254) || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
           (a[0] == 192 && a[1] == 0 && (a[2] == 0 || a[2] == 2)) || (a[0] == 192 && a[1] == 168) ||
           (a[0] == 198 && (a[1] & 0xfe) == 18) || (a[0] == 198 && a[1] == 51 && a[2] == 100) ||
           (a[0] == 203 && a[1] == 0 && a[2] == 113) || a[0] >= 224;
}

int swi_addr_special(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return special_v4((const unsigned char *)&in->sin_addr);
    }
    if (sa->sa_family == AF_INET6) {
        const unsigned char *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        static const unsigned char zero[15] = {0};
        if (memcmp(a, v4mapped, 12) == 0)
            return special_v4(a + 12);
        if (memcmp(a, zero, 15) == 0) /* :: and ::1 */
            return 1;
        return (a[0] & 0xfe) == 0xfc ||                   /* fc00::/7 unique local */
               (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || /* fe80::/10 link-local */
               a[0] == 0xff ||                            /* multicast */
               (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8) || /* doc */
               (a[0] == 0 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b) ||    /* NAT64 */
               (a[0] == 0x01 && a[1] == 0 && a[2] == 0 && a[3] == 0);            /* discard */
    }
    return 1; /* anything that is not IP is not for us */
}

/* Whether the first prefix bits of a and b are equal. */
static int prefix_equal(const unsigned char *a, const unsigned char *b, int prefix)
{
    int bytes = prefix / 8, bits = prefix % 8;

    if (memcmp(a, b, (size_t)bytes) != 0)
        return 0;
    return bits == 0 || ((a[bytes] ^ b[bytes]) & (0xff << (8 - bits)) & 0xff) == 0;
}

int swi_addr_allowed(const struct swi_policy *pol, const struct sockaddr *sa)
{
    static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const unsigned char *a4 = NULL, *a6 = NULL;
    size_t i;

    if (pol->allow_private || !swi_addr_special(sa))
        return 1;
    if (sa->sa_family == AF_INET) {
        a4 = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
    } else if (sa->sa_family == AF_INET6) {
        a6 = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        /* ::ffff:a.b.c.d is the IPv4 host a.b.c.d: an IPv4 block covers it */
        if (memcmp(a6, v4mapped, 12) == 0)
            a4 = a6 + 12;
    } else {
        return 0;
    }
    for (i = 0; i < pol->nnets; i++) {
        const struct swi_net *n = &pol->nets[i];
        if ((n->family == AF_INET && a4 != NULL && prefix_equal(a4, n->addr, n->prefix)) ||
            (n->family == AF_INET6 && a6 != NULL && prefix_equal(a6, n->addr, n->prefix)))
            return 1;
    }
    return 0;
}

/* One block "ADDR[/PREFIX]" of len bytes at s, white space around it already trimmed. */
static int net_parse(const char *s, size_t len, struct swi_net *n)
{
    char text[INET6_ADDRSTRLEN + 8];
    const char *slash;
    size_t alen, i;
    long prefix = -1, max;

    if (len == 0 || len >= sizeof(text))
        return -1;
    memcpy(text, s, len);
    text[len] = '\0';
    slash = strchr(text, '/');
    alen = slash ? (size_t)(slash - text) : len;
    if (slash != NULL) {
        const char *p = slash + 1;
        /* digits only: strtol would take "+8", " 8" or "08x" */
        if (*p == '\0' || strlen(p) > 3)
            return -1;
        for (i = 0; p[i]; i++)
            if (!isdigit((unsigned char)p[i]))
                return -1;
        prefix = strtol(p, NULL, 10);
    }
    text[alen] = '\0';
    memset(n, 0, sizeof(*n));
    if (inet_pton(AF_INET, text, n->addr) == 1) {
        n->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, text, n->addr) == 1) {
        n->family = AF_INET6;
        max = 128;
    } else {
        return -1;
    }
    if (prefix > max)
        return -1;
    n->prefix = (int)(prefix < 0 ? max : prefix);
    /* "10.1.2.3/8" means 10.0.0.0/8: host bits are cleared, not refused */
    for (i = 0; i < 16; i++) {
        int keep = n->prefix - (int)i * 8;
        if (keep <= 0)
            n->addr[i] = 0;
        else if (keep < 8)
            n->addr[i] &= (unsigned char)(0xff << (8 - keep));
    }
    return 0;
}

int swi_nets_parse(const char *text, struct swi_net *nets, size_t *n)
{
    const char *p = text, *end;
    size_t count = 0, len;

    *n = 0;
    if (text == NULL)
        return 0;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '\0')
        return 0; /* nothing but white space: no block */
    for (;;) {
        end = strchr(p, ',');
        len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && isspace((unsigned char)*p)) {
            p++;
            len--;
        }
        while (len > 0 && isspace((unsigned char)p[len - 1]))
            len--;
        /* an empty block ("a,,b", "a,") is a typo, not nothing */
        if (count == SWI_MAX_NETS || net_parse(p, len, &nets[count]) != 0)
            return -1;
        count++;
        if (end == NULL)
            break;
        p = end + 1;
    }
    *n = count;
    return 0;
}

static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct swi_xfer *x = arg;

    if (purpose == CURLSOCKTYPE_IPCXN && !swi_addr_allowed(&x->policy, &addr->addr)) {
        char host[INET6_ADDRSTRLEN] = "?";
        if (addr->family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&addr->addr)->sin_addr, host, sizeof(host));
        else if (addr->family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&addr->addr)->sin6_addr, host,
                      sizeof(host));
        x->blocked = 1;
        snprintf(x->blocked_addr, sizeof(x->blocked_addr), "%s", host);
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype, addr->protocol);
}

/*
 * Called before each request, on a new connection or a reused one. open_socket() has
 * vetted every new connection; a reused one was vetted under the policy of the transfer
 * that opened it, which a reload may have narrowed since (SW_OPT_ALLOW_NETS), so the
 * address is checked again under this transfer's policy.
 */
static int before_request(void *arg, char *conn_primary_ip, char *conn_local_ip,
                          int conn_primary_port, int conn_local_port)
{
    struct swi_xfer *x = arg;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
    const struct sockaddr *sa;

    (void)conn_local_ip;
    (void)conn_primary_port;
    (void)conn_local_port;
    memset(&in, 0, sizeof(in));
    memset(&in6, 0, sizeof(in6));
    if (conn_primary_ip != NULL && inet_pton(AF_INET, conn_primary_ip, &in.sin_addr) == 1) {
        in.sin_family = AF_INET;
        sa = (const struct sockaddr *)&in;
    } else if (conn_primary_ip != NULL &&
               inet_pton(AF_INET6, conn_primary_ip, &in6.sin6_addr) == 1) {
        in6.sin6_family = AF_INET6;
        sa = (const struct sockaddr *)&in6;
    } else {
        sa = NULL; /* not an IP address: special, like swi_addr_special() says */
    }
    if (sa == NULL ? !x->policy.allow_private : !swi_addr_allowed(&x->policy, sa)) {
        x->blocked = 1;
        snprintf(x->blocked_addr, sizeof(x->blocked_addr), "%s",
                 conn_primary_ip ? conn_primary_ip : "?");
        return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct swi_xfer *x = arg;
    size_t n = size * nmemb;

    if (x->len + n > (size_t)x->policy.max_bytes) {
        x->too_big = 1;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    memcpy(x->buf + x->len, data, n);
    x->len += n;
    return n;
}

/* Cache-Control: max-age=N and Expires give the lifetime the server wants. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    struct swi_xfer *x = arg;
    size_t n = size * nmemb;
    char line[256];
    const char *p;

    if (n >= sizeof(line))
        return n;
    memcpy(line, data, n);
    line[n] = '\0';
    if (strncasecmp(line, "Cache-Control:", 14) == 0) {
        if ((p = strcasestr(line, "max-age=")) != NULL) {
            long v = strtol(p + 8, NULL, 10);
            if (v >= 0)
                x->max_age = v;
        }
        if (strcasestr(line, "no-store") != NULL || strcasestr(line, "no-cache") != NULL)
            x->max_age = 0;
    } else if (strncasecmp(line, "Expires:", 8) == 0) {
        time_t t = curl_getdate(line + 8, NULL);
        if (t > 0)
            x->expires_hdr = (int64_t)t;
    }
    return n;
}

int swi_xfer_setup(struct swi_xfer *x)
{
    CURL *c = curl_easy_init();

    if (c == NULL || (x->buf = malloc((size_t)x->policy.max_bytes + 1)) == NULL) {
        curl_easy_cleanup(c);
        return -1;
    }
    x->easy = c;
    x->max_age = -1;
    curl_easy_setopt(c, CURLOPT_URL, x->url);
    curl_easy_setopt(c, CURLOPT_PRIVATE, x);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, x->policy.allow_http ? "http,https" : "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, x->policy.connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, x->policy.timeout_ms);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->policy.max_bytes);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, x);
    curl_easy_setopt(c, CURLOPT_PREREQFUNCTION, before_request);
    curl_easy_setopt(c, CURLOPT_PREREQDATA, x);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "stirwire/" PACKAGE_VERSION_STR);
    if (x->policy.tls_ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, x->policy.tls_ca_file);
    return 0;
}

sw_err swi_xfer_result(sw_ctx *ctx, struct swi_xfer *x, CURLcode rc)
{
    long status = 0;

    if (x->blocked && rc != CURLE_OK)
        return swi_fail(ctx, SW_ERR_CERT_PRIVATE,
                        "%s: refused to connect to %s, a private or special-purpose address",
                        x->url, x->blocked_addr);
    if (x->too_big || rc == CURLE_FILESIZE_EXCEEDED)
        return swi_fail(ctx, SW_ERR_CERT_TOO_LARGE, "%s: response is larger than %ld bytes", x->url,
                        x->policy.max_bytes);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return swi_fail(ctx, SW_ERR_CERT_TIMEOUT, "%s: no complete answer within %ld ms", x->url,
                        x->policy.timeout_ms);
    if (rc != CURLE_OK)
        return swi_fail(ctx, SW_ERR_CERT_CONNECT, "%s: %s", x->url, curl_easy_strerror(rc));
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 300 && status < 400)
        return swi_fail(ctx, SW_ERR_CERT_REDIRECT, "%s: HTTP %ld redirect, not followed", x->url,
                        status);
    if (status != 200)
        return swi_fail(ctx, SW_ERR_CERT_HTTP_STATUS, "%s: HTTP status %ld", x->url, status);
    return SW_OK;
}

void swi_xfer_free(struct swi_xfer *x)
{
    if (x == NULL)
        return;
    curl_easy_cleanup(x->easy);
    free(x->buf);
    free(x->url);
    free(x->tls_ca_copy);
    free(x->cache_dir);
    sw_cert_free(x->cert);
    free(x);
}
