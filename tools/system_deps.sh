#!/usr/bin/env bash
# The system packages the browser test needs (`make system-deps`, part of `make test`).
#
#   Chromium           the browser that shows the book (Debian's /usr/bin/chromium; the
#                      test never downloads a browser of its own). CHROMIUM=... names another.
#   fonts-noto-cjk     Chinese text: without a CJK font every character is an empty box
#   fonts-noto-color-emoji  the execution table's check mark and the other emoji
#   fontconfig         fc-list, which this script uses to see the fonts
#   npm                installs the pinned MathJax the test serves to the pages (npm ci)
#
# Each is checked first; only what is missing is installed, with apt-get (Debian/Ubuntu),
# as root or through sudo. Where neither works, one line says what to install, and the
# script fails.
set -uo pipefail

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

# The Debian packages of what is missing, one word each.
# Without fc-list no font can be seen, so the fonts count as missing too.
fonts() { command -v fc-list > /dev/null && fc-list "$1" family; }
missing() {
    [ -x "$CHROMIUM" ] || echo chromium
    command -v fc-list > /dev/null || echo fontconfig
    [ -n "$(fonts :lang=zh-cn)" ] || echo fonts-noto-cjk
    [ -n "$(fonts :charset=2705)" ] || echo fonts-noto-color-emoji   # U+2705, the table's mark
    command -v npm > /dev/null || echo npm
}

packages=$(missing | tr '\n' ' ')
packages=${packages% }
[ -z "$packages" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo > /dev/null && sudo -n true 2> /dev/null; then
    sudo=(sudo -n)
else
    sudo=(none)
fi
if ! command -v apt-get > /dev/null || [ "${sudo[0]:-}" = none ]; then
    echo "make test needs these system packages (Debian names): $packages;" \
         "install them (as root: apt-get install $packages) and run make test again" >&2
    exit 1
fi

echo "Installing the browser test's system packages: $packages"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086  # one word per package
"${sudo[@]}" apt-get update -qq \
    && "${sudo[@]}" apt-get install -y -qq --no-install-recommends $packages > /dev/null
still=$(missing | tr '\n' ' ')
if [ -n "${still% }" ]; then
    echo "still missing after apt-get install: ${still% } (on Ubuntu, chromium is a snap:" \
         "install Chromium another way and set CHROMIUM=/path/to/chromium)" >&2
    exit 1
fi
