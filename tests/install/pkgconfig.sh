#!/usr/bin/env bash
# Build and run a consumer with cc $(pkg-config --cflags --libs softce), from the installed prefix
# and from a moved copy of it (softce.pc locates its prefix from its own directory).
. "$(dirname "$0")/common.sh"
command -v pkg-config >/dev/null || fail "pkg-config is not installed"

# build_and_run <prefix> <name>
build_and_run() {
    local prefix=$1 name=$2
    local pcdir="$prefix/$SOFTCE_LIBDIR/pkgconfig"
    local exe="$SOFTCE_WORK/$name"
    export PKG_CONFIG_LIBDIR="$pcdir" PKG_CONFIG_PATH=""
    [ "$(pkg-config --modversion softce)" = "$SOFTCE_VERSION" ] || fail "pkg-config: wrong version"
    pkg-config --atleast-version 1.0 softce || fail "pkg-config --atleast-version 1.0"
    local libdir
    libdir=$(pkg-config --variable=libdir softce)
    [ "$(cd "$libdir" && pwd -P)" = "$(cd "$prefix/$SOFTCE_LIBDIR" && pwd -P)" ] ||
        fail "pkg-config libdir $libdir is not under $prefix"
    note "cflags: $(pkg-config --cflags softce)  libs: $(pkg-config --libs softce)"
    # shellcheck disable=SC2046 # word splitting of the flags is intended
    "$CC" -std=c99 -Wall -Wextra -Werror "$SOFTCE_TESTS_DIR/consumer.c" -o "$exe" \
        $(pkg-config --cflags --libs softce) -lm -Wl,-rpath,"$libdir"
    "$exe" || fail "$name failed"
    # It must run against the library in this prefix, not another one on the system.
    local loaded
    loaded=$(ldd "$exe" | sed -n 's/^[[:space:]]*libsoftce[^ ]* => \(.*\) (0x[0-9a-f]*)$/\1/p')
    [ "$(realpath "$loaded")" = "$(realpath "$libdir/libsoftce.so.$SOFTCE_VERSION")" ] ||
        fail "$name loads libsoftce from '$loaded', not from $libdir"
}

build_and_run "$SOFTCE_PREFIX" consumer_pc

moved="$SOFTCE_WORK/moved-prefix"
rm -rf "$moved"
cp -a "$SOFTCE_PREFIX" "$moved"
build_and_run "$moved" consumer_pc_moved
rm -rf "$moved"
