#!/usr/bin/env bash
# tests/packaging/deb.sh - the Debian packages build from a clean copy of the tree, install,
# and run: the daemon from its unit's ExecStart line, the tool, the library through
# pkg-config. Then they are purged, so the machine is left as it was.
#
# Needs root (dpkg -i, a system user): as another user it says so and exits 77 (skip).
# CI runs as root on a fresh Debian 12, where tools/deps.sh installed debhelper.
# systemd is not PID 1 in CI's containers, so the unit is not started by systemctl: its
# ExecStart= line is read from the installed unit and run as its User= with its
# AmbientCapabilities= (setpriv) and LimitNOFILE= (prlimit), with $NOTIFY_SOCKET bound by
# the test (Type=notify: READY=1, RELOADING=1, STOPPING=1 are checked). The configuration
# is /etc/stirwire/stirwire.conf.test, written here: a listener on a port under 1024 (so
# CAP_NET_BIND_SERVICE is exercised) and a trunk from 127.0.0.1 to a local UAS.
#
# Usage: tests/packaging/deb.sh            (from anywhere; the tree is the script's)
#   DEB_DIR=DIR   install the .deb files already built in DIR instead of building
#   JOBS=N        dpkg-buildpackage parallel=N (default 2)
# Prints "ok - ..." / "FAIL - ..." per check; exit 0 when all passed, 1 otherwise.
set -uo pipefail

top="$(cd "$(dirname "$0")/../.." && pwd)"
here="$top/tests/packaging"
jobs="${JOBS:-2}"
pkgs=(libstirwire0 libstirwire-dev stirwire stirwired)
fails=0
t0=$SECONDS

ok() { echo "ok - $*"; }
nok() {
    echo "FAIL - $*"
    fails=$((fails + 1))
}
check() { # check "what" CMD...: ok when CMD succeeds
    local what="$1"
    shift
    if "$@" >/dev/null 2>&1; then ok "$what"; else nok "$what"; fi
}

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP - deb.sh installs packages and needs root (CI runs it as root)"
    exit 77
fi
for t in dpkg-buildpackage dh apt-get setpriv prlimit python3 cc pkg-config; do
    if ! command -v "$t" >/dev/null 2>&1; then
        echo "FAIL - $t not found: run tools/deps.sh (debhelper, dpkg-dev, util-linux...)"
        exit 1
    fi
done
for p in "${pkgs[@]}"; do
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = "installed" ]; then
        echo "FAIL - $p is installed already: this test would purge it; remove it first"
        exit 1
    fi
done

work="$(mktemp -d /tmp/stirwire-deb.XXXXXX)"
chmod 0755 "$work" # the daemon runs as stirwire and writes its log here
daemon_pid=""
bg_pids=()
user_existed=0
getent passwd stirwire >/dev/null && user_existed=1
waitfor() { # waitfor FILE PATTERN SECONDS
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
apt_get() { apt-get -o DPkg::Lock::Timeout=300 -y -q "$@"; }

cleanup() {
    [ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2>/dev/null
    for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; done
    rm -f /etc/stirwire/stirwire.conf.test
    local installed=()
    for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qv not-installed &&
            installed+=("$p")
    done
    if [ ${#installed[@]} -gt 0 ]; then
        if DEBIAN_FRONTEND=noninteractive apt_get purge "${installed[@]}" >"$work/purge.log" 2>&1; then
            ok "apt-get purge ${installed[*]}"
        else
            nok "apt-get purge ${installed[*]}"
            tail -n 20 "$work/purge.log"
        fi
    fi
    if [ $user_existed = 0 ] && getent passwd stirwire >/dev/null; then
        deluser --system --quiet stirwire >/dev/null 2>&1 || true
    fi
    local left=""
    for f in /usr/sbin/stirwired /usr/bin/stirwire /lib/systemd/system/stirwired.service \
        /etc/stirwire /etc/logrotate.d/stirwire /var/log/stirwire /var/lib/stirwire \
        /var/cache/stirwire /usr/include/stirwire.h; do
        [ -e "$f" ] && left="$left $f"
    done
    if [ -z "$left" ]; then ok "nothing left after purge"; else nok "left after purge:$left"; fi
    rm -rf "$work"
    echo "deb.sh: $((SECONDS - t0)) s, $fails failure(s)"
    [ $fails -eq 0 ] || exit 1
}
trap cleanup EXIT

# --- build from a clean copy ---------------------------------------------------------
if [ -n "${DEB_DIR:-}" ]; then
    debs="$(cd "$DEB_DIR" && pwd)"
    ok "using the packages in $debs (DEB_DIR)"
else
    mkdir -p "$work/src"
    if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
        # HEAD plus uncommitted changes to tracked files (stash create makes that commit
        # without touching the work tree); untracked files are left out, as in a clone
        rev="$(git -C "$top" stash create 2>/dev/null)"
        git -C "$top" archive --format=tar "${rev:-HEAD}" | tar -x -C "$work/src"
        what="git archive ${rev:-HEAD}"
    else
        tar -C "$top" --exclude='./build*' --exclude='./debian/tmp' -cf - . | tar -x -C "$work/src"
        what="a copy of $top"
    fi
    t=$SECONDS
    if (cd "$work/src" && DEB_BUILD_OPTIONS="nocheck noddebs parallel=$jobs" \
        dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
        ok "dpkg-buildpackage -us -uc -b from $what ($((SECONDS - t)) s)"
    else
        nok "dpkg-buildpackage -us -uc -b from $what"
        tail -n 40 "$work/build.log"
        exit 1
    fi
    debs="$work"
fi
files=()
for p in "${pkgs[@]}"; do
    f="$(ls "$debs/${p}"_*.deb 2>/dev/null | head -n 1)"
    if [ -n "$f" ]; then files+=("$f"); else nok "no ${p}_*.deb built"; fi
done
[ ${#files[@]} -eq ${#pkgs[@]} ] || exit 1
ok "built ${files[*]##*/}"
check "stirwire ships no secsipidx (Debian's secsipidx owns it)" \
    sh -c "! dpkg-deb -c '$debs'/stirwire_*.deb | grep -q secsipidx"
check "no libsecsipid.so.1 in any package (Debian's libsecsipid1 owns it)" \
    sh -c "! for f in '$debs'/*.deb; do dpkg-deb -c \"\$f\"; done | grep -q libsecsipid"

# --- install -----------------------------------------------------------------------
if DEBIAN_FRONTEND=noninteractive apt_get install "${files[@]}" >"$work/install.log" 2>&1; then
    ok "apt-get install ./*.deb"
else
    nok "apt-get install ./*.deb"
    tail -n 30 "$work/install.log"
    exit 1
fi
check "system user stirwire exists" getent passwd stirwire
for d in /var/log/stirwire /var/cache/stirwire /var/lib/stirwire; do
    check "$d is owned by stirwire" test "$(stat -c %U "$d" 2>/dev/null)" = stirwire
done
check "/etc/stirwire/stirwire.conf is a conffile" \
    sh -c "dpkg-query -W -f='\${Conffiles}' stirwired | grep -q ' /etc/stirwire/stirwire.conf '"
check "/etc/logrotate.d/stirwire installed" test -f /etc/logrotate.d/stirwire
if command -v logrotate >/dev/null 2>&1; then
    check "logrotate -d accepts /etc/logrotate.d/stirwire" logrotate -d /etc/logrotate.d/stirwire
fi
if out="$(stirwired -t -c /etc/stirwire/stirwire.conf 2>&1)" && [ "$out" = "configuration OK" ]; then
    ok "stirwired -t -c /etc/stirwire/stirwire.conf (the packaged file)"
else
    nok "stirwired -t -c /etc/stirwire/stirwire.conf: $out"
fi
if out="$(stirwired -t 2>&1)" && [ "$out" = "configuration OK" ]; then
    ok "stirwired -t (default path /etc/stirwire/stirwire.conf)"
else
    nok "stirwired -t: $out"
fi
check "stirwired -V" sh -c 'stirwired -V | grep -q "^stirwired 0"'
check "stirwire --help" sh -c 'stirwire --help | grep -q "^Usage: stirwire"'
check "stirwire --version" stirwire --version
check "man stirwired(8) and stirwire(1) installed" \
    test -f /usr/share/man/man8/stirwired.8.gz -a -f /usr/share/man/man1/stirwire.1.gz

# --- libstirwire-dev: a program built with pkg-config ---------------------------------
cat >"$work/t.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <stirwire.h>
int main(void)
{
    const char *v = sw_version();
    printf("%s\n", v);
    return v != NULL && strcmp(v, "") != 0 ? 0 : 1;
}
C
if cc -o "$work/t" "$work/t.c" $(pkg-config --cflags --libs stirwire) >"$work/cc.log" 2>&1 &&
    "$work/t" >/dev/null; then
    ok "a program built with pkg-config stirwire runs (sw_version $("$work/t"))"
else
    nok "a program built with pkg-config stirwire"
    cat "$work/cc.log"
fi

# --- the unit ----------------------------------------------------------------------
unit=/lib/systemd/system/stirwired.service
check "$unit installed" test -f "$unit"
if command -v systemd-analyze >/dev/null 2>&1; then
    if out="$(systemd-analyze verify "$unit" 2>&1)" && [ -z "$out" ]; then
        ok "systemd-analyze verify $unit"
    else
        nok "systemd-analyze verify $unit: $out"
    fi
fi
unit_get() { sed -n "s/^$1=//p" "$unit" | tail -n 1; }
exec_start="$(unit_get ExecStart)"
exec_start="${exec_start#[-@+!:]}"
user="$(unit_get User)"
caps="$(unit_get AmbientCapabilities)"
nofile="$(unit_get LimitNOFILE)"
check "unit: Type=notify, ExecStart with -f -c /etc/stirwire/stirwire.conf" \
    sh -c "[ '$(unit_get Type)' = notify ] && [ '$exec_start' = '/usr/sbin/stirwired -f -c /etc/stirwire/stirwire.conf' ]"

# the test's configuration: a privileged port (CAP_NET_BIND_SERVICE), a trunk to a UAS
port="$(python3 "$here/sippeer.py" freeport udp 700 999)"
uas_port="$(python3 "$here/sippeer.py" freeport udp 20000 40000)"
cat >/etc/stirwire/stirwire.conf.test <<CONF
# written by tests/packaging/deb.sh; removed at its end
listen = ( { address = "127.0.0.1"; port = $port; transport = [ "udp" ]; } );
workers = 1;
log = { syslog = false; level = "info"; };
trunks = (
    { name = "local"; match = { source = "127.0.0.1/32"; };
      next_hop = "sip:127.0.0.1:$uas_port;transport=udp"; }
);
CONF
chmod 0644 /etc/stirwire/stirwire.conf.test
if out="$(stirwired -t -c /etc/stirwire/stirwire.conf.test 2>&1)" && [ "$out" = "configuration OK" ]; then
    ok "stirwired -t -c /etc/stirwire/stirwire.conf.test"
else
    nok "stirwired -t -c /etc/stirwire/stirwire.conf.test: $out"
fi

python3 "$here/sippeer.py" uas "$uas_port" >"$work/uas.out" &
bg_pids+=($!)
notify_name="@stirwire-deb-test/$$"
: >"$work/notify"
python3 "$here/sippeer.py" notify "$notify_name" "$work/notify" >"$work/notify.out" &
bg_pids+=($!)
check "the UAS and the notify socket are up" \
    eval "waitfor '$work/uas.out' ready 10 && waitfor '$work/notify.out' ready 10"

# ExecStart, with the test's file for -c, as systemd would run it: User=, its
# AmbientCapabilities= (setpriv: inheritable and ambient), LimitNOFILE=, NOTIFY_SOCKET
cmd=(${exec_start//\/etc\/stirwire\/stirwire.conf//etc/stirwire/stirwire.conf.test})
capset=""
for c in $caps; do
    c="${c#CAP_}"
    capset="$capset,+${c,,}"
done
capset="${capset#,}"
runner=(setpriv --reuid="$user" --regid="$user" --init-groups)
[ -n "$capset" ] && runner+=(--inh-caps="$capset" --ambient-caps="$capset")
if [ -n "$nofile" ]; then
    # a container's own hard limit may be lower than the unit's: systemd would fail the
    # same way there, so take what the machine allows and say so
    hard="$(ulimit -Hn)"
    if [ "$hard" != unlimited ] && [ "$nofile" -gt "$hard" ]; then
        echo "# LimitNOFILE=$nofile is over this machine's hard limit $hard: using $hard"
        nofile="$hard"
    fi
    runner=(prlimit --nofile="$nofile:$nofile" "${runner[@]}")
fi
echo "# running: ${runner[*]} ${cmd[*]}"
: >"$work/daemon.log"
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin NOTIFY_SOCKET="$notify_name" \
    "${runner[@]}" "${cmd[@]}" 2>"$work/daemon.log" &
daemon_pid=$!

check "daemon logs \"started\"" waitfor "$work/daemon.log" "stirwired .* started" 10
check "daemon sent READY=1 to NOTIFY_SOCKET" waitfor "$work/notify" "^READY=1" 5
check "daemon runs as $user" sh -c "[ \"\$(ps -o user= -p $daemon_pid)\" = '$user' ]"
out="$(python3 "$here/sippeer.py" options "$port" 70)"
if [ "${out#SIP/2.0 200}" != "$out" ]; then
    ok "OPTIONS to 127.0.0.1:$port went through the trunk to the UAS: $out"
else
    nok "OPTIONS to 127.0.0.1:$port through the trunk: $out"
fi
out="$(python3 "$here/sippeer.py" options "$port" 0)"
if [ "${out#SIP/2.0 483}" != "$out" ]; then
    ok "OPTIONS with Max-Forwards 0 answered by the daemon: $out"
else
    nok "OPTIONS with Max-Forwards 0: $out"
fi
kill -HUP "$daemon_pid"
check "SIGHUP (ExecReload): daemon logs \"reloaded\"" waitfor "$work/daemon.log" "reloaded " 5
check "SIGHUP: RELOADING=1 (with MONOTONIC_USEC) sent" \
    waitfor "$work/notify" "^RELOADING=1 MONOTONIC_USEC=[0-9]" 5
sleep 0.2
check "SIGHUP: READY=1 again after RELOADING=1" \
    sh -c "sed -n '/^RELOADING=1/,\$p' '$work/notify' | grep -q '^READY=1'"
kill -TERM "$daemon_pid"
rc=0
wait "$daemon_pid" || rc=$?
daemon_pid=""
check "SIGTERM: exit status 0" test "$rc" -eq 0
check "SIGTERM: daemon logs \"stopped\"" grep -q "stopped" "$work/daemon.log"
check "SIGTERM: STOPPING=1 sent" grep -q "^STOPPING=1" "$work/notify"
if [ $fails -gt 0 ]; then
    echo "# daemon log:"
    sed 's/^/#   /' "$work/daemon.log"
    echo "# notifications:"
    sed 's/^/#   /' "$work/notify"
fi
echo "# build, install and checks: $((SECONDS - t0)) s"
[ $fails -eq 0 ]
