/*
 * fetch.c - the x5u / CRL fetch policy: which URLs may be fetched, and a libcurl
 * easy handle set up so that a hostile URL cannot turn us against our own network.
 *
 * The URL in info comes from whoever sent the INVITE. By default we fetch https only,
 * from port 443 or 8443, with no userinfo, query or fragment, no redirects, a size cap
 * and timeouts; and the address curl actually connects to is checked (not the name),
 * so a DNS answer of 127.0.0.1 or 10.x is refused however the name was spelled. Each
 * rule can be relaxed for a lab through sw_verifier_set_long().
 */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
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

static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct swi_xfer *x = arg;

    if (purpose == CURLSOCKTYPE_IPCXN && !x->policy.allow_private &&
        swi_addr_special(&addr->addr)) {
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
    sw_cert_free(x->cert);
    free(x);
}
