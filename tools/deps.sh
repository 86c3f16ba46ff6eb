#!/bin/sh
# Install what salesflow needs to build and test, from Debian's packages.
# Only missing packages are installed; runs apt-get as root or through sudo.
# DEPS_EXTRA adds packages (make fuzz: clang and its libFuzzer runtime).
set -e
want="build-essential pkg-config libmicrohttpd-dev libsqlite3-dev libjansson-dev
libcurl4-openssl-dev libisal-dev libcmocka-dev sqlite3 curl python3
libmariadb-dev mariadb-server mariadb-client
librdkafka-dev kcat
chromium fonts-dejavu-core fonts-liberation
prometheus
zlib1g-dev libzstd-dev zstd
libfiu-dev fiu-utils faketime libfaketime python3-cassandra
$DEPS_EXTRA"
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
# chromium: the dashboard's browser tests (tests/browser, playwright-core
# from npm drives /usr/bin/chromium; no browser is ever downloaded).
# prometheus: for promtool, which checks GET /metrics in the tests.
# zlib, zstd: Content-Encoding of request and reply bodies.
# fiu-utils, faketime: disk faults and clock jumps injected into the real
# binary by the tests. python3-cassandra: the reference CQL encoder the
# Cassandra sink's frames are compared with.
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
# The e2e tests start a private mariadbd in a temp dir and never use the
# system service, which Debian starts on install: stop and disable it, but
# only if we just installed it (a server someone already runs is theirs).
case " $missing " in
*" mariadb-server "*)
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        $sudo systemctl disable --now mariadb >/dev/null 2>&1 || true
    elif command -v update-rc.d >/dev/null 2>&1; then
        $sudo update-rc.d mariadb disable >/dev/null 2>&1 || true
        $sudo invoke-rc.d mariadb stop >/dev/null 2>&1 || true
    fi ;;
esac
# Likewise the Prometheus server that comes with promtool.
case " $missing " in
*" prometheus "*)
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
    elif command -v update-rc.d >/dev/null 2>&1; then
        $sudo update-rc.d prometheus disable >/dev/null 2>&1 || true
        $sudo invoke-rc.d prometheus stop >/dev/null 2>&1 || true
    fi ;;
esac
