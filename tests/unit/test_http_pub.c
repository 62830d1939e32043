/*
 * test_http_pub.c - GET|HEAD /v1/pub/<file> (src/http/pub.c) called as a plain function
 * over a temporary pub_dir: what it serves (regular files, subdirectories, content types,
 * the descriptor and its size and bytes) and everything it must refuse (symbolic links
 * pointing out and in, directories, a FIFO, hidden files, a big file, "..", encoded
 * traversal in the raw path, absolute paths, empty components), with both ways of opening
 * (openat2 and the O_NOFOLLOW walk).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../src/http/pub.h"

static char root[64];
static struct sw_api api;

#define PEM "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n"
#define SUBPEM "-----BEGIN CERTIFICATE-----\nMIIBsub\n-----END CERTIFICATE-----\n"

static void put(const char *rel, const char *text)
{
    char p[256];
    FILE *f;

    snprintf(p, sizeof p, "%s/%s", root, rel);
    assert_non_null(f = fopen(p, "w"));
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

static void sized(const char *rel, off_t size)
{
    char p[256];
    int fd;

    snprintf(p, sizeof p, "%s/%s", root, rel);
    assert_true((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0);
    assert_int_equal(ftruncate(fd, size), 0);
    close(fd);
}

static void mk(const char *rel, const char *what, const char *target)
{
    char p[256];

    snprintf(p, sizeof p, "%s/%s", root, rel);
    if (strcmp(what, "dir") == 0)
        assert_int_equal(mkdir(p, 0755), 0);
    else if (strcmp(what, "fifo") == 0)
        assert_int_equal(mkfifo(p, 0644), 0);
    else
        assert_int_equal(symlink(target, p), 0);
}

/* The tree every test sees:
 *   cert.pem sub/x.pem sub/.hidden x.der ca.crl UP.CER noext notes.txt .secret
 *   big.pem (1 MiB + 1) exact.bin (1 MiB) empty/ pipe (FIFO)
 *   out -> /etc/passwd   in -> cert.pem   linkdir -> sub   escape -> /etc */
static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "%s", "/tmp/sw-pub-test.XXXXXX");
    if (mkdtemp(root) == NULL)
        return -1;
    put("cert.pem", PEM);
    mk("sub", "dir", NULL);
    put("sub/x.pem", SUBPEM);
    put("sub/.hidden", "hidden\n");
    put("x.der", "\x30\x82\x01\x05");
    put("ca.crl", "crl");
    put("UP.CER", PEM);
    put("noext", "n");
    put("notes.txt", "t");
    put(".secret", "secret\n");
    sized("big.pem", SW_PUB_MAX_SIZE + 1);
    sized("exact.bin", SW_PUB_MAX_SIZE);
    mk("empty", "dir", NULL);
    mk("pipe", "fifo", NULL);
    mk("out", "link", "/etc/passwd");
    mk("in", "link", "cert.pem");
    mk("linkdir", "link", "sub");
    mk("escape", "link", "/etc");
    memset(&api, 0, sizeof api);
    api.pub_dirfd = sw_pub_open_dir(root, NULL, 0);
    return api.pub_dirfd >= 0 ? 0 : -1;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int teardown(void **state)
{
    (void)state;
    close(api.pub_dirfd);
    return nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* One call of the handler; RAW NULL means "as decoded". The response starts as the
 * server would hand it over: no body, no descriptor, no headers. */
static struct sw_http_resp serve(const struct sw_api *a, const char *method, const char *path,
                                 const char *raw)
{
    struct sw_http_req req;
    struct sw_http_resp resp;

    memset(&req, 0, sizeof req);
    memset(&resp, 0, sizeof resp);
    resp.fd = -1;
    req.method = method;
    req.path = path;
    req.raw_path = raw != NULL ? raw : path;
    req.body = "";
    assert_int_equal(sw_api_pub(a, &req, &resp), SW_HTTP_DONE);
    return resp;
}

/* A refusal: STATUS, a JSON error named ERROR, and no descriptor. */
static void refused(const char *path, const char *raw, int status, const char *error)
{
    struct sw_http_resp r = serve(&api, "GET", path, raw);
    char want[64];

    if (r.status != status || r.fd != -1)
        fail_msg("%s (raw %s): status %d fd %d, want %d and no fd", path, raw ? raw : "=", r.status,
                 r.fd, status);
    assert_string_equal(r.content_type, "application/json");
    assert_non_null(r.body);
    snprintf(want, sizeof want, "\"%s\"", error);
    assert_non_null(strstr(r.body, want));
    free(r.body);
}

/* A success: 200, TYPE, and a descriptor of exactly the bytes of WANT (LEN of them). */
static void served(const char *method, const char *path, const char *type, const char *want,
                   size_t len)
{
    struct sw_http_resp r = serve(&api, method, path, NULL);
    char buf[128];
    ssize_t n;

    if (r.status != 200)
        fail_msg("%s %s: status %d, want 200", method, path, r.status);
    assert_true(r.fd >= 0);
    assert_null(r.body);
    assert_string_equal(r.content_type, type);
    assert_int_equal(r.fd_size, len);
    if (want != NULL) {
        assert_true(len < sizeof buf);
        n = pread(r.fd, buf, sizeof buf, 0);
        assert_int_equal(n, (ssize_t)len);
        assert_memory_equal(buf, want, len);
    }
    /* Handed over as an ordinary blocking, close-on-exec descriptor. */
    assert_int_equal(fcntl(r.fd, F_GETFL) & O_NONBLOCK, 0);
    assert_true(fcntl(r.fd, F_GETFD) & FD_CLOEXEC);
    close(r.fd);
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    assert_non_null(d);
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

static void serves_a_file_with_cache_headers(void **state)
{
    struct sw_http_resp r;

    (void)state;
    served("GET", "/v1/pub/cert.pem", "application/x-pem-file", PEM, strlen(PEM));
    r = serve(&api, "GET", "/v1/pub/cert.pem", NULL);
    assert_non_null(strstr(r.headers, "Cache-Control: max-age=3600\r\n"));
    assert_non_null(strstr(r.headers, "Last-Modified: "));
    assert_non_null(strstr(r.headers, " GMT\r\n"));
    close(r.fd);
}

static void serves_a_file_in_a_subdirectory(void **state)
{
    (void)state;
    served("GET", "/v1/pub/sub/x.pem", "application/x-pem-file", SUBPEM, strlen(SUBPEM));
}

static void head_hands_over_the_descriptor_for_its_length(void **state)
{
    (void)state;
    served("HEAD", "/v1/pub/cert.pem", "application/x-pem-file", PEM, strlen(PEM));
}

static void picks_the_content_type_by_extension(void **state)
{
    (void)state;
    served("GET", "/v1/pub/x.der", "application/pkix-cert", "\x30\x82\x01\x05", 4);
    served("GET", "/v1/pub/ca.crl", "application/pkix-crl", "crl", 3);
    served("GET", "/v1/pub/UP.CER", "application/x-pem-file", PEM, strlen(PEM));
    served("GET", "/v1/pub/noext", "application/octet-stream", "n", 1);
    served("GET", "/v1/pub/notes.txt", "application/octet-stream", "t", 1);
    assert_string_equal(sw_pub_content_type("a.crt"), "application/x-pem-file");
    assert_string_equal(sw_pub_content_type("sub.pem/file"), "application/octet-stream");
    assert_string_equal(sw_pub_content_type(".pem"), "application/octet-stream");
}

static void refuses_symbolic_links_out_and_in(void **state)
{
    (void)state;
    refused("/v1/pub/out", NULL, 404, "not_found");
    refused("/v1/pub/in", NULL, 404, "not_found");
    refused("/v1/pub/linkdir/x.pem", NULL, 404, "not_found");
    refused("/v1/pub/escape/passwd", NULL, 404, "not_found");
}

static void refuses_directories_and_the_bare_prefix(void **state)
{
    (void)state;
    refused("/v1/pub/empty", NULL, 404, "not_found");
    refused("/v1/pub/sub", NULL, 404, "not_found");
    refused("/v1/pub/sub/", NULL, 404, "not_found");
    refused("/v1/pub/", NULL, 404, "not_found");
}

static void refuses_a_fifo_without_blocking(void **state)
{
    (void)state;
    /* Without O_NONBLOCK the open would wait for a writer; main's alarm ends the test. */
    refused("/v1/pub/pipe", NULL, 404, "not_found");
}

static void refuses_hidden_files(void **state)
{
    (void)state;
    refused("/v1/pub/.secret", NULL, 404, "not_found");
    refused("/v1/pub/sub/.hidden", NULL, 404, "not_found");
}

static void refuses_a_file_over_the_size_limit(void **state)
{
    (void)state;
    refused("/v1/pub/big.pem", NULL, 404, "not_found");
    served("GET", "/v1/pub/exact.bin", "application/octet-stream", NULL, SW_PUB_MAX_SIZE);
}

static void refuses_dot_dot_even_when_it_stays_inside(void **state)
{
    (void)state;
    refused("/v1/pub/../../etc/passwd", NULL, 404, "not_found");
    refused("/v1/pub/sub/../cert.pem", NULL, 404, "not_found");
    refused("/v1/pub/..", NULL, 404, "not_found");
    refused("/v1/pub/./cert.pem", NULL, 404, "not_found");
}

static void refuses_encoded_traversal_in_the_raw_path(void **state)
{
    (void)state;
    refused("/v1/pub/../etc/passwd", "/v1/pub/%2e%2e%2fetc%2fpasswd", 404, "not_found");
    refused("/v1/pub/../etc/passwd", "/v1/pub/%2E%2E/etc/passwd", 404, "not_found");
    /* Decoded it looks fine; the raw form shows an encoded '/', which nothing needs. */
    refused("/v1/pub/sub/x.pem", "/v1/pub/sub%2fx.pem", 404, "not_found");
    refused("/v1/pub/cert.pem", "/v1/pub/cert%2epem", 404, "not_found");
    /* A server that normalized "/./" away before decoding still shows it raw. */
    refused("/v1/pub/cert.pem", "/v1/pub/./cert.pem", 404, "not_found");
    /* Double encoding decodes once to a lexically fine name that does not exist. */
    refused("/v1/pub/%2e%2e%2fetc%2fpasswd", "/v1/pub/%252e%252e%252fetc%252fpasswd", 404,
            "not_found");
}

static void refuses_absolute_paths_and_empty_components(void **state)
{
    (void)state;
    refused("/v1/pub//etc/passwd", NULL, 404, "not_found");
    refused("/v1/pub/sub//x.pem", NULL, 404, "not_found");
    refused("/v1/pub/a//b", NULL, 404, "not_found");
}

static void answers_400_to_names_that_cannot_be_files(void **state)
{
    char longname[1200];

    (void)state;
    refused("/v1/pub/cert.pem", "/v1/pub/cert.pem%00.txt", 400, "bad_path");
    refused("/v1/pub/..\\etc\\passwd", NULL, 400, "bad_path");
    refused("/v1/pub/a\x01z", NULL, 400, "bad_path");
    snprintf(longname, sizeof longname, "/v1/pub/%01100d", 7);
    refused(longname, NULL, 400, "bad_path");
}

static void answers_404_for_missing_files_and_without_pub_dir(void **state)
{
    struct sw_api none;
    struct sw_http_resp r;

    (void)state;
    refused("/v1/pub/nothere.pem", NULL, 404, "not_found");
    memset(&none, 0, sizeof none);
    none.pub_dirfd = -1;
    r = serve(&none, "GET", "/v1/pub/cert.pem", NULL);
    assert_int_equal(r.status, 404);
    assert_int_equal(r.fd, -1);
    free(r.body);
}

static void one_body_for_every_404(void **state)
{
    const char *paths[] = {"/v1/pub/nothere.pem", "/v1/pub/out",     "/v1/pub/.secret",
                           "/v1/pub/empty",       "/v1/pub/big.pem", "/v1/pub/../x"};
    struct sw_http_resp first = serve(&api, "GET", paths[0], NULL);

    (void)state;
    for (size_t i = 1; i < sizeof paths / sizeof paths[0]; i++) {
        struct sw_http_resp r = serve(&api, "GET", paths[i], NULL);
        assert_int_equal(r.status, 404);
        assert_string_equal(r.body, first.body);
        free(r.body);
    }
    free(first.body);
}

static void answers_405_to_other_methods(void **state)
{
    struct sw_http_resp r;

    (void)state;
    r = serve(&api, "POST", "/v1/pub/cert.pem", NULL);
    assert_int_equal(r.status, 405);
    assert_int_equal(r.fd, -1);
    assert_non_null(strstr(r.headers, "Allow: GET, HEAD\r\n"));
    free(r.body);
}

static void refusals_leak_no_descriptor(void **state)
{
    int before = open_fds();

    (void)state;
    for (int i = 0; i < 20; i++) {
        struct sw_http_resp r = serve(&api, "GET", "/v1/pub/big.pem", NULL);
        free(r.body);
        r = serve(&api, "GET", "/v1/pub/empty", NULL);
        free(r.body);
        r = serve(&api, "GET", "/v1/pub/linkdir/x.pem", NULL);
        free(r.body);
        r = serve(&api, "GET", "/v1/pub/pipe", NULL);
        free(r.body);
    }
    assert_int_equal(open_fds(), before);
}

/* The fallback walk on its own, as on a kernel without openat2. */
static void the_walk_refuses_every_symbolic_link(void **state)
{
    int fd;

    (void)state;
    assert_true((fd = sw_pub_open_file(api.pub_dirfd, "cert.pem", SW_PUB_RESOLVE_WALK)) >= 0);
    close(fd);
    assert_true((fd = sw_pub_open_file(api.pub_dirfd, "sub/x.pem", SW_PUB_RESOLVE_WALK)) >= 0);
    close(fd);
    errno = 0;
    assert_int_equal(sw_pub_open_file(api.pub_dirfd, "out", SW_PUB_RESOLVE_WALK), -1);
    assert_int_equal(errno, ELOOP);
    assert_int_equal(sw_pub_open_file(api.pub_dirfd, "in", SW_PUB_RESOLVE_WALK), -1);
    assert_int_equal(errno, ELOOP);
    assert_int_equal(sw_pub_open_file(api.pub_dirfd, "escape/passwd", SW_PUB_RESOLVE_WALK), -1);
    assert_int_equal(sw_pub_open_file(api.pub_dirfd, "linkdir/x.pem", SW_PUB_RESOLVE_WALK), -1);
    assert_int_equal(sw_pub_open_file(api.pub_dirfd, "nothere", SW_PUB_RESOLVE_WALK), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(sw_pub_open_file(api.pub_dirfd, "cert.pem/x", SW_PUB_RESOLVE_WALK), -1);
    /* The FIFO opens at once (non-blocking); the handler's fstat refuses it. */
    assert_true((fd = sw_pub_open_file(api.pub_dirfd, "pipe", SW_PUB_RESOLVE_WALK)) >= 0);
    close(fd);
}

/* Where the kernel has openat2, AUTO uses it: a symbolic directory on the way gives
 * openat2's ELOOP (RESOLVE_NO_SYMLINKS), where the walk gives ENOTDIR. */
static void auto_uses_openat2_where_the_kernel_has_it(void **state)
{
#ifdef SYS_openat2
    char how[24] = {0}; /* struct open_how: flags, mode, resolve, all 0 */

    (void)state;
    if (syscall(SYS_openat2, AT_FDCWD, ".", how, sizeof how) < 0 &&
        (errno == ENOSYS || errno == EPERM))
        skip();
    errno = 0;
    assert_int_equal(sw_pub_open_file(api.pub_dirfd, "escape/passwd", SW_PUB_RESOLVE_AUTO), -1);
    assert_int_equal(errno, ELOOP);
    errno = 0;
    assert_int_equal(sw_pub_open_file(api.pub_dirfd, "escape/passwd", SW_PUB_RESOLVE_WALK), -1);
    assert_int_equal(errno, ENOTDIR);
#else
    (void)state;
    skip();
#endif
}

static void open_dir_reports_what_went_wrong(void **state)
{
    char err[256], p[128];
    int fd;

    (void)state;
    assert_true((fd = sw_pub_open_dir(root, err, sizeof err)) >= 0);
    close(fd);
    snprintf(p, sizeof p, "%s/nothere", root);
    assert_int_equal(sw_pub_open_dir(p, err, sizeof err), -1);
    assert_non_null(strstr(err, p));
    snprintf(p, sizeof p, "%s/cert.pem", root);
    assert_int_equal(sw_pub_open_dir(p, err, sizeof err), -1);
    assert_non_null(strstr(err, "Not a directory"));
    assert_int_equal(sw_pub_open_dir("", err, sizeof err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(serves_a_file_with_cache_headers),
        cmocka_unit_test(serves_a_file_in_a_subdirectory),
        cmocka_unit_test(head_hands_over_the_descriptor_for_its_length),
        cmocka_unit_test(picks_the_content_type_by_extension),
        cmocka_unit_test(refuses_symbolic_links_out_and_in),
        cmocka_unit_test(refuses_directories_and_the_bare_prefix),
        cmocka_unit_test(refuses_a_fifo_without_blocking),
        cmocka_unit_test(refuses_hidden_files),
        cmocka_unit_test(refuses_a_file_over_the_size_limit),
        cmocka_unit_test(refuses_dot_dot_even_when_it_stays_inside),
        cmocka_unit_test(refuses_encoded_traversal_in_the_raw_path),
        cmocka_unit_test(refuses_absolute_paths_and_empty_components),
        cmocka_unit_test(answers_400_to_names_that_cannot_be_files),
        cmocka_unit_test(answers_404_for_missing_files_and_without_pub_dir),
        cmocka_unit_test(one_body_for_every_404),
        cmocka_unit_test(answers_405_to_other_methods),
        cmocka_unit_test(refusals_leak_no_descriptor),
        cmocka_unit_test(the_walk_refuses_every_symbolic_link),
        cmocka_unit_test(auto_uses_openat2_where_the_kernel_has_it),
        cmocka_unit_test(open_dir_reports_what_went_wrong),
    };

    /* A handler that blocks (a FIFO opened without O_NONBLOCK) fails the run, not hangs it. */
    alarm(60);
    return cmocka_run_group_tests(tests, setup, teardown);
}
