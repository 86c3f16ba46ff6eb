#!/bin/sh
# Install what salesflow needs to build and test, from Debian's packages.
# Only missing packages are installed; runs apt-get as root or through sudo.
set -e
want="build-essential pkg-config libmicrohttpd-dev libsqlite3-dev libjansson-dev
libcurl4-openssl-dev libisal-dev libcmocka-dev sqlite3 curl python3"
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
