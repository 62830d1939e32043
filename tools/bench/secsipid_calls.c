/*
 * secsipid_calls.c - libsecsipid calls per second on one thread, for tools/bench/secsipid.
 *
 * Written against the libsecsipid C header (Debian's libsecsipid-dev, as Kamailio compiles
 * its module) and linked with -lsecsipid, with no run path: the one binary measures the Go
 * library or ours, whichever the dynamic loader finds first (LD_LIBRARY_PATH). It prints
 * which file it got, so a run can never quietly measure the same library twice.
 *
 *   secsipid_calls SECONDS KEY PUB X5U
 *
 * SecSIPIDGetIdentity: a full Identity for 12025550100 -> 12025550199, attest A, signed
 * with the private key file KEY, X5U in info=<...>; the output is freed each call, as a
 * host does. SecSIPIDCheckFullPubKey: one such Identity checked with the text of the public
 * key file PUB (expire 3600). Each runs for SECONDS; the clock is read every 16 calls. A call
 * that fails ends the program with status 1: a rate of failing calls would mean nothing.
 *
 * Output: "name: value" lines: secsipid_lib, secsipid_identity_bytes, and for each call
 * _per_s (calls per second of wall time) and _per_cpu_s (calls per CPU second of the whole
 * process: on a busy shared machine the wall-time rate also measures the neighbours).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <secsipid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds (user + system) of the whole process, every thread: the Go runtime's own
 * threads (garbage collector, scheduler) count, as they cost the host the same. */
static double cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* The whole of a small file, NUL-terminated; NULL when it cannot be read. */
static char *slurp(const char *path, int *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && n < 65536 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) != NULL) {
        if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        } else {
            buf[n] = '\0';
            *len = (int)n;
        }
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    char *end, *out = NULL, *ident, *pub;
    char orig[] = "12025550100", dest[] = "12025550199", attest[] = "A", origid[] = "";
    double secs, t0, t, c0;
    unsigned long n;
    int rc, publen = 0, idlen;
    Dl_info dl;

    if (argc != 5) {
        fprintf(stderr, "usage: %s SECONDS KEY PUB X5U\n", argv[0]);
        return 2;
    }
    secs = strtod(argv[1], &end);
    if (*end != '\0' || secs <= 0 || secs > 600) {
        fprintf(stderr, "secsipid_calls: SECONDS must be a number in (0, 600]\n");
        return 2;
    }
    if ((pub = slurp(argv[3], &publen)) == NULL) {
        fprintf(stderr, "secsipid_calls: cannot read %s\n", argv[3]);
        return 2;
    }
    if (dladdr((void *)SecSIPIDGetIdentity, &dl) != 0 && dl.dli_fname != NULL)
        printf("secsipid_lib: %s\n", dl.dli_fname);

    /* The Identity that the check loop verifies; also a warm-up (key parsing, caches). */
    rc = SecSIPIDGetIdentity(orig, dest, attest, origid, argv[4], argv[2], &out);
    if (rc <= 0 || out == NULL) {
        fprintf(stderr, "secsipid_calls: SecSIPIDGetIdentity failed (%d)\n", rc);
        return 1;
    }
    ident = out;
    idlen = rc;
    printf("secsipid_identity_bytes: %d\n", idlen);
    rc = SecSIPIDCheckFullPubKey(ident, idlen, 3600, pub, publen);
    if (rc != 0) {
        fprintf(stderr, "secsipid_calls: SecSIPIDCheckFullPubKey of a fresh Identity: %d\n", rc);
        return 1;
    }

    n = 0;
    c0 = cpu_s();
    t0 = now_s();
    do {
        for (int i = 0; i < 16; i++) {
            out = NULL;
            rc = SecSIPIDGetIdentity(orig, dest, attest, origid, argv[4], argv[2], &out);
            free(out);
            if (rc <= 0) {
                fprintf(stderr, "secsipid_calls: SecSIPIDGetIdentity failed (%d)\n", rc);
                return 1;
            }
        }
        n += 16;
    } while ((t = now_s()) - t0 < secs);
    printf("secsipid_getidentity_per_s: %.0f\n", (double)n / (t - t0));
    printf("secsipid_getidentity_per_cpu_s: %.0f\n", (double)n / (cpu_s() - c0));

    n = 0;
    c0 = cpu_s();
    t0 = now_s();
    do {
        for (int i = 0; i < 16; i++) {
            rc = SecSIPIDCheckFullPubKey(ident, idlen, 3600, pub, publen);
            if (rc != 0) {
                fprintf(stderr, "secsipid_calls: SecSIPIDCheckFullPubKey failed (%d)\n", rc);
                return 1;
            }
        }
        n += 16;
    } while ((t = now_s()) - t0 < secs);
    printf("secsipid_checkfullpubkey_per_s: %.0f\n", (double)n / (t - t0));
    printf("secsipid_checkfullpubkey_per_cpu_s: %.0f\n", (double)n / (cpu_s() - c0));

    free(ident);
    free(pub);
    return 0;
}
