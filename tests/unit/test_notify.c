/*
 * test_notify.c - the sd_notify datagram of src/daemon/notify.c: what systemd receives on
 * a path socket and on an abstract one ('@'), the MONOTONIC_USEC added to RELOADING=1,
 * nothing sent and no error without $NOTIFY_SOCKET, and an error for a socket nobody
 * listens on or a name systemd would never give.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../src/daemon/notify.h"

/* Binds a datagram socket at name ('@' = abstract) as systemd does; returns its fd. */
static int listen_at(const char *name)
{
    struct sockaddr_un sun;
    socklen_t len;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, name, strlen(name));
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
    if (name[0] == '@')
        sun.sun_path[0] = '\0';
    else
        len++;
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, len), 0);
    return fd;
}

/* The next datagram on fd, NUL-terminated, or "" when none is waiting. */
static void receive(int fd, char *buf, size_t size)
{
    ssize_t n = recv(fd, buf, size - 1, MSG_DONTWAIT);
    buf[n > 0 ? n : 0] = '\0';
}

static void sends_ready_to_a_path_socket(void **state)
{
    char dir[] = "/tmp/test_notify.XXXXXX", path[256], buf[512];
    int fd;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/notify", dir);
    fd = listen_at(path);
    setenv("NOTIFY_SOCKET", path, 1);
    assert_int_equal(sw_notify("READY=1\nSTATUS=configuration #%u", 3u), 0);
    receive(fd, buf, sizeof(buf));
    assert_string_equal(buf, "READY=1\nSTATUS=configuration #3");
    assert_int_equal(sw_notify("STOPPING=1"), 0);
    receive(fd, buf, sizeof(buf));
    assert_string_equal(buf, "STOPPING=1");
    close(fd);
    unlink(path);
    rmdir(dir);
    unsetenv("NOTIFY_SOCKET");
}

static void sends_to_an_abstract_socket(void **state)
{
    char name[64], buf[512];
    int fd;

    snprintf(name, sizeof(name), "@stirwire/test_notify/%ld", (long)getpid());
    fd = listen_at(name);
    setenv("NOTIFY_SOCKET", name, 1);
    assert_int_equal(sw_notify("READY=1"), 0);
    receive(fd, buf, sizeof(buf));
    assert_string_equal(buf, "READY=1");
    close(fd);
    unsetenv("NOTIFY_SOCKET");
}

static void reloading_carries_the_monotonic_clock(void **state)
{
    char name[64], buf[512], *end;
    unsigned long long usec;
    int fd;

    snprintf(name, sizeof(name), "@stirwire/test_notify_r/%ld", (long)getpid());
    fd = listen_at(name);
    setenv("NOTIFY_SOCKET", name, 1);
    assert_int_equal(sw_notify("RELOADING=1"), 0);
    receive(fd, buf, sizeof(buf));
    assert_true(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
    usec = strtoull(buf + 27, &end, 10);
    assert_true(usec > 0);
    assert_int_equal(*end, '\0');
    close(fd);
    unsetenv("NOTIFY_SOCKET");
}

static void does_nothing_outside_systemd(void **state)
{
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(sw_notify("READY=1"), 0);
    setenv("NOTIFY_SOCKET", "", 1);
    assert_int_equal(sw_notify("READY=1"), 0);
    unsetenv("NOTIFY_SOCKET");
}

static void fails_when_nobody_listens_or_the_name_is_wrong(void **state)
{
    setenv("NOTIFY_SOCKET", "@stirwire/test_notify/nobody-listens-here", 1);
    assert_true(sw_notify("READY=1") < 0);
    setenv("NOTIFY_SOCKET", "relative/path", 1);
    assert_true(sw_notify("READY=1") < 0);
    unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sends_ready_to_a_path_socket),
        cmocka_unit_test(sends_to_an_abstract_socket),
        cmocka_unit_test(reloading_carries_the_monotonic_clock),
        cmocka_unit_test(does_nothing_outside_systemd),
        cmocka_unit_test(fails_when_nobody_listens_or_the_name_is_wrong),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
