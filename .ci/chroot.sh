# Sourced by the .ci jobs that run pybuf in a Debian chroot (CPython
# 3.14/3.15 with GCC 16 from sid; aarch64 under qemu).  Root only.
#
#   chroot_make DIR SUITE ARCH PACKAGES   debootstrap DIR once (a finished
#                                         one is reused: PYBUF_CI_CHROOTS)
#   make_sid, make_arm64                  the two chroots the jobs use
#                                         (.ci/prepare-chroots makes both
#                                         at the start of .ci/run)
#   chroot_enter DIR                      mount proc and /dev, copy the
#                                         host's DNS, CA bundle and pip
#                                         settings in; unmounted at exit
#   in_chroot DIR CMD...                  run CMD in DIR with a clean
#                                         environment
#
# A chroot that cannot be made (no network, no debootstrap) is not a
# failure of pybuf: the caller prints one loud line and skips its job.

CHROOTS=${PYBUF_CI_CHROOTS:-/var/tmp/pybuf-ci-chroots}
MIRROR=${PYBUF_CI_MIRROR:-http://deb.debian.org/debian}
_mounted=()

_chroot_cleanup() {
    local m
    for m in "${_mounted[@]}"; do umount -l "$m" 2>/dev/null || true; done
}
trap _chroot_cleanup EXIT

chroot_make() {
    local dir=$1 suite=$2 arch=$3 pkgs=$4
    [ -e "$dir/.pybuf-ready" ] && return 0
    # a half-made chroot of an earlier run: never delete through a mount
    # (a bound /dev would take the host's device nodes with it)
    findmnt -rno TARGET | grep "^$dir/" | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf --one-file-system "$dir"
    mkdir -p "$(dirname "$dir")"
    debootstrap --arch="$arch" --variant=minbase --include="$pkgs" \
        "$suite" "$dir" "$MIRROR" > "$dir.log" 2>&1 || {
        tail -n 5 "$dir.log"; return 1; }
    touch "$dir/.pybuf-ready"
}

# CPython 3.14 and 3.15 (with CPython's test.test_buffer), GCC 16
SID=$CHROOTS/sid
make_sid() {
    local pkgs=python3.14,python3.14-dev,python3.14-venv,libpython3.14-testsuite
    pkgs+=,python3.15,python3.15-dev,python3.15-venv,libpython3.15-testsuite
    pkgs+=,gcc,g++,libc6-dev,git,ca-certificates
    command -v debootstrap > /dev/null && chroot_make "$SID" sid amd64 "$pkgs"
}

# CPython 3.13 on arm64, whose headers the aarch64 cross-build compiles
# against; unpacked by the host, configured under qemu-user (slow: every
# package more costs time)
ARM64=$CHROOTS/arm64
make_arm64() {
    command -v debootstrap > /dev/null && [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] \
        && chroot_make "$ARM64" trixie arm64 python3,python3-dev,ca-certificates
}

chroot_enter() {
    local dir=$1
    mountpoint -q "$dir/proc" || { mount -t proc proc "$dir/proc"; _mounted+=("$dir/proc"); }
    mountpoint -q "$dir/dev" || { mount --bind /dev "$dir/dev"; _mounted+=("$dir/dev"); }
    cp -L /etc/resolv.conf "$dir/etc/resolv.conf"
    # The host's CA bundle (it may hold a proxy's certificate) and pip's
    # configuration, so that pip reaches the package index as on the host;
    # not the host's find-links folder (its wheels are x86-64 CPython 3.11).
    mkdir -p "$dir/etc/ssl/certs"
    cp -L "${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}" "$dir/etc/ssl/certs/pybuf-host-ca.crt"
    [ -f /etc/pip.conf ] && cp -L /etc/pip.conf "$dir/etc/pip.conf"
    if [ -d /etc/xdg/pip ]; then mkdir -p "$dir/etc/xdg" && cp -rL /etc/xdg/pip "$dir/etc/xdg/"; fi
    sed -i 's#^cert *=.*#cert = /etc/ssl/certs/pybuf-host-ca.crt#' "$dir/etc/pip.conf" 2>/dev/null || true
}

in_chroot() {
    local dir=$1; shift
    chroot "$dir" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
        PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
        PIP_CERT=/etc/ssl/certs/pybuf-host-ca.crt SSL_CERT_FILE=/etc/ssl/certs/pybuf-host-ca.crt \
        PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_DEFAULT_TIMEOUT=180 \
        PYTHONDONTWRITEBYTECODE=1 "$@"
}
