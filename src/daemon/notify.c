/*
 * notify.c - the sd_notify(3) datagram, without libsystemd (see notify.h).
 *
 * systemd reads one datagram per notification from a SOCK_DGRAM AF_UNIX socket whose
 * name it puts in $NOTIFY_SOCKET: a file system path ("/run/systemd/notify") or an
 * abstract name written with a leading '@' (the socket address then starts with a NUL
 * byte and its length counts only the name, not a terminator). With NotifyAccess=main
 * (the default) only the main pid may send, which is why the unit runs stirwired -f:
 * a daemon() child would be ignored. The socket is opened per call: notifications are
 * a handful per process lifetime, and a descriptor kept open would be one more thing to
 * close across a privilege drop.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../core/log.h"
#include "notify.h"

static atomic_int warned; /* one warning per process: a broken socket stays broken */

static int fail(const char *name, int err)
{
    if (atomic_exchange(&warned, 1) == 0)
        sw_log(LOG_WARNING, "cannot notify systemd at NOTIFY_SOCKET=%s: %s", name, strerror(err));
    return -err;
}

int sw_notify(const char *fmt, ...)
{
    const char *name = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sun;
    struct timespec now;
    socklen_t len;
    char msg[1024];
    size_t nlen;
    va_list ap;
    int fd, n, err;

    if (name == NULL || name[0] == '\0')
        return 0;
    nlen = strlen(name);
    if ((name[0] != '/' && name[0] != '@') || nlen >= sizeof(sun.sun_path))
        return fail(name, EINVAL);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, name, nlen);
    if (name[0] == '@') {
        sun.sun_path[0] = '\0'; /* abstract: the length below excludes any terminator */
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + nlen);
    } else {
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + nlen + 1);
    }

    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(msg))
        return fail(name, EMSGSIZE);
    /*
     * Type=notify-reload (systemd 253) matches RELOADING=1 to the reload it asked for by
     * the monotonic clock; older systemd ignores the line.
     */
    if (strncmp(msg, "RELOADING=1", 11) == 0 && clock_gettime(CLOCK_MONOTONIC, &now) == 0) {
        int m = snprintf(msg + n, sizeof(msg) - (size_t)n, "\nMONOTONIC_USEC=%llu",
                         (unsigned long long)now.tv_sec * 1000000ULL +
                             (unsigned long long)now.tv_nsec / 1000ULL);
        if (m < 0 || (size_t)m >= sizeof(msg) - (size_t)n)
            return fail(name, EMSGSIZE);
        n += m;
    }

    if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
        return fail(name, errno);
    if (sendto(fd, msg, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&sun, len) != (ssize_t)n) {
        err = errno;
        close(fd);
        return fail(name, err);
    }
    close(fd);
    return 0;
}
