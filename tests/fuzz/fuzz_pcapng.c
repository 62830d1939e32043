/*
 * fuzz_pcapng.c - libFuzzer target for the TAP's capture-file reader (src/tap/source.c),
 * above all its own pcapng parser: what `stirwire pcap` is handed by whoever sends a
 * capture to look at.
 *
 * Each input is a whole file: it is written to a memory file (memfd) and opened by path
 * (/proc/self/fd/N) through tap_files_open, so the reader runs as it does on disk: the
 * magic peek, gzip detection (an input starting 1f 8b is inflated first), pcapng blocks,
 * or classic pcap through libpcap. Every frame is read to the end; the target aborts when
 * a frame's bytes lie outside what the reader could hold or its link type is not one of
 * its file's interfaces' (an out-of-bounds read shows up under ASan by itself).
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../src/tap/source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char name[64], err[512];
    struct tap_frame fr;
    uint64_t done, total, sum = 0;
    int rc;

    if (memfd < 0 && (memfd = memfd_create("fuzz_pcapng", MFD_CLOEXEC)) < 0)
        abort();
    if (ftruncate(memfd, 0) != 0 || (size > 0 && pwrite(memfd, data, size, 0) != (ssize_t)size))
        abort();
    snprintf(name, sizeof(name), "/proc/self/fd/%d", memfd);
    char *paths[] = {name};
    struct tap_files *f = tap_files_open(paths, 1, err, sizeof(err));
    if (f == NULL) {
        if (strlen(err) == 0)
            abort(); /* a failed open always says why */
        return 0;
    }
    uint64_t last = 0;
    while ((rc = tap_files_next(f, &fr)) != 0) {
        if (rc < 0) {
            if (tap_files_error(f) == NULL)
                abort();
            continue;
        }
        if (fr.caplen > 16 * 1024 * 1024 || fr.index != last + 1 || fr.source != 0)
            abort();
        last = fr.index;
        /* touch every byte, so that ASan sees a frame that points past its buffer */
        for (size_t i = 0; i < fr.caplen; i++)
            sum += fr.data[i];
    }
    tap_files_progress(f, &done, &total);
    if (done != total || total != size)
        abort();
    (void)tap_files_linktype(f, 0);
    (void)tap_files_snaplen(f, 0);
    tap_files_close(f);
    return (int)(sum & 0) /* 0 */;
}
