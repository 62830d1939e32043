/*
 * notify.h - tells systemd what stirwired is doing (sd_notify(3) protocol, Type=notify).
 *
 * The whole protocol is one datagram of "KEY=VALUE" lines to the AF_UNIX socket named by
 * $NOTIFY_SOCKET, so it is done here in a few lines rather than by linking libsystemd for
 * one function. Outside systemd ($NOTIFY_SOCKET unset) every call does nothing, so the
 * daemon calls it unconditionally.
 */
#ifndef SW_NOTIFY_H
#define SW_NOTIFY_H

/*
 * Sends the state lines built from fmt (printf syntax, lines separated by '\n') to
 * $NOTIFY_SOCKET: "READY=1" after start-up and after a reload, "RELOADING=1" when a
 * reload begins (MONOTONIC_USEC=<now> is added, as systemd 253's Type=notify-reload
 * wants), "STOPPING=1" at shutdown, "STATUS=text" for systemctl status. The socket is a
 * path or, with a leading '@', an abstract name (Linux). Returns 0 when sent or when
 * $NOTIFY_SOCKET is unset, -errno when it could not be sent (logged once at warning: a
 * Type=notify unit then times out, and the log says why). Thread-safe; never blocks.
 */
int sw_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* SW_NOTIFY_H */
