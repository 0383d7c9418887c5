#!/usr/bin/env bash
# Debian packages and the examples against them (CI runs this after the test suite):
#   1. builds libsoftce1 and libsoftce-dev with CPack (a Release build with prefix /usr),
#   2. checks them: names, Depends, contents, no build paths, dependencies resolvable by apt,
#   3. unpacks them into a scratch root (dpkg -x) and points pkg-config, CMake and the loader
#      there -- the system stays untouched and the relocatable softce.pc / CMake package are
#      exercised on the way,
#   4. builds and runs every example against that installed copy: C with pkg-config, C with
#      find_package, the C and Python tutorials, the Python examples, Rust (cargo test
#      --offline) and Fortran (pkg-config and find_package).
# Needs what .ci/setup installs. Work files go to $SOFTCE_PACKAGES_WORK (build-packages/).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
work=${SOFTCE_PACKAGES_WORK:-$src/build-packages}
python=/usr/bin/python3
passed=0
failed=0
failures=()

log() { printf '\n== %s\n' "$*"; }
die() {
    echo "packages: FAIL: $*" >&2
    exit 1
}

# check NAME COMMAND...: runs one check, records the result, goes on after a failure.
check() {
    local name=$1
    shift
    log "$name"
    if "$@"; then
        passed=$((passed + 1))
        echo "-- ok: $name"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "-- FAIL: $name" >&2
    fi
}

# expect_output REGEX COMMAND...: the command succeeds and its output matches the regex.
expect_output() {
    local regex=$1 out
    shift
    out=$("$@") || return 1
    printf '%s\n' "$out"
    grep -Eq "$regex" <<<"$out" || { echo "output does not match /$regex/" >&2 && return 1; }
}

find_cargo() {
    if command -v cargo >/dev/null; then
        command -v cargo
    elif [ -x "$HOME/.cargo/bin/cargo" ]; then
        echo "$HOME/.cargo/bin/cargo"
    fi
}

# ---------------------------------------------------------------------------- 1. packages
build_packages() {
    log "build and package (cmake + cpack)"
    rm -rf "$work"
    mkdir -p "$work"
    cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
        -DSOFTCE_BUILD_TESTS=OFF -DSOFTCE_BUILD_EXAMPLES=OFF -DSOFTCE_BUILD_BENCH=OFF \
        >"$work/configure.log" || { cat "$work/configure.log"; die "configure"; }
    cmake --build "$work/build" -j2 >"$work/build.log" || { cat "$work/build.log"; die "build"; }
    (cd "$work/build" && cpack -G DEB -B "$work/debs") >"$work/cpack.log" ||
        { cat "$work/cpack.log"; die "cpack"; }
    version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$work/build/CMakeCache.txt")
    abi=${version%%.*}
    arch=$(dpkg --print-architecture)
    multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
    runtime_deb=$work/debs/libsoftce${abi}_${version}-1_${arch}.deb
    dev_deb=$work/debs/libsoftce-dev_${version}-1_${arch}.deb
    ls -l "$work"/debs/*.deb
    if [ ! -f "$runtime_deb" ] || [ ! -f "$dev_deb" ]; then
        die "expected $runtime_deb and $dev_deb"
    fi
    [ "$(find "$work/debs" -maxdepth 1 -name '*.deb' | wc -l)" = 2 ] || die "more than 2 packages"
}

check_control() {
    local depends pkg
    dpkg-deb -f "$runtime_deb"
    dpkg-deb -f "$dev_deb"
    depends=$(dpkg-deb -f "$runtime_deb" Depends)
    for pkg in libc6 libgomp1; do
        grep -Eq "(^|, )$pkg \(>= [0-9.]+\)" <<<"$depends" ||
            { echo "runtime: no $pkg in Depends" && return 1; }
    done
    [ "$(dpkg-deb -f "$dev_deb" Depends)" = "libsoftce${abi} (= ${version}-1)" ] ||
        { echo "dev must depend on exactly libsoftce${abi} (= ${version}-1)" && return 1; }
    [ "$(dpkg-deb -f "$runtime_deb" Section)" = libs ] || return 1
    ctrl=$(dpkg-deb --ctrl-tarfile "$runtime_deb" | tar -tf -) # whole: no early-closed pipe
    grep -qx './shlibs' <<<"$ctrl" ||
        { echo "runtime: no shlibs file" && return 1; }
}

# The file lists: the runtime package holds the shared library only, the dev package the rest.
check_contents() {
    local lib=usr/lib/$multiarch runtime dev f
    runtime=$(dpkg-deb -c "$runtime_deb" | awk '$1 !~ /^d/ { print $6 }' | sed 's|^\./||' | sort)
    dev=$(dpkg-deb -c "$dev_deb" | awk '$1 !~ /^d/ { print $6 }' | sed 's|^\./||' | sort)
    printf 'runtime:\n%s\ndev:\n%s\n' "$runtime" "$dev"
    [ "$runtime" = "$(printf '%s\n' "$lib/libsoftce.so.$abi" "$lib/libsoftce.so.$version" \
        "usr/share/doc/libsoftce$abi/copyright" | sort)" ] ||
        { echo "unexpected runtime contents" && return 1; }
    for f in usr/include/softce/softce.h "$lib/libsoftce.so" "$lib/pkgconfig/softce.pc" \
        "$lib/cmake/softce/softceConfig.cmake" "$lib/cmake/softce/softceConfigVersion.cmake" \
        "$lib/cmake/softce/softceTargets.cmake" usr/share/doc/libsoftce-dev/copyright; do
        grep -qxF "$f" <<<"$dev" || { echo "dev: missing $f" && return 1; }
    done
    for f in softce softce_forward softce_backward softce_forward_backward softce_log_softmax \
        softce_tensor_init softce_options_init softce_status_name; do
        grep -qxF "usr/share/man/man3/$f.3.gz" <<<"$dev" || { echo "dev: no man $f" && return 1; }
    done
    ! grep -q 'libsoftce\.so\.' <<<"$dev" || { echo "dev holds the shared library" && return 1; }
}

# No path of the source or build tree in any file or control script; no RUNPATH.
check_no_build_paths() {
    local scan=$work/scan hits
    rm -rf "$scan"
    mkdir -p "$scan"
    for deb in "$runtime_deb" "$dev_deb"; do
        dpkg-deb -R "$deb" "$scan/$(basename "$deb" .deb)"
    done
    # Man pages are compressed: look inside them too.
    find "$scan" -name '*.gz' -exec gzip -d {} +
    hits=$(grep -rlaF -e "$src" -e "$work" "$scan" || true)
    [ -z "$hits" ] || { echo "build paths in: $hits" && return 1; }
    ! readelf -d "$scan/libsoftce${abi}_"*/usr/lib/*/libsoftce.so.* | grep -Eq 'RPATH|RUNPATH' ||
        { echo "the shared library has a RUNPATH" && return 1; }
    echo "no trace of $src or $work in $(find "$scan" -type f | wc -l) files"
}

# apt resolves both packages on this system, and refuses libsoftce-dev alone.
check_depends_resolve() {
    command -v apt-get >/dev/null || { echo "no apt-get: skipped" && return 0; }
    apt-get install -s -q "$runtime_deb" "$dev_deb" | grep -E '^(Inst|Conf) ' || return 1
    if apt-get install -s -q "$dev_deb" >/dev/null 2>&1; then
        echo "libsoftce-dev installs without libsoftce$abi" && return 1
    fi
    echo "libsoftce-dev alone: refused (Depends: libsoftce$abi)"
}

# ---------------------------------------------------------------------------- 2. install
install_scratch_root() {
    root=$work/root
    mkdir -p "$root"
    dpkg -x "$runtime_deb" "$root"
    dpkg -x "$dev_deb" "$root"
    libdir=$root/usr/lib/$multiarch
    export PKG_CONFIG_PATH=$libdir/pkgconfig
    export CMAKE_PREFIX_PATH=$root/usr
    export LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    export PYTHONPATH=$src/bindings/python PYTHONDONTWRITEBYTECODE=1
    unset SOFTCE_LIBRARY
    log "installed into $root"
    echo "pkg-config: $(pkg-config --modversion softce) $(pkg-config --cflags --libs softce)"
}

# ---------------------------------------------------------------------------- 3. examples
minimal_regex='^loss = 1\.4185(39|40), grad\[0\] = \{-0\.1705, 0\.1212, 0\.0493\}$'

c_with_pkg_config() {
    local out=$work/pkg-config cc=${CC:-cc}
    mkdir -p "$out"
    # shellcheck disable=SC2046 # the flags are meant to be split
    "$cc" -std=c11 -Wall -Wextra -Werror "$src/examples/minimal.c" -o "$out/minimal" \
        $(pkg-config --cflags --libs softce) &&
        "$cc" -std=c11 -Wall -Wextra -Werror "$src/examples/demo.c" -o "$out/demo" \
            $(pkg-config --cflags --libs softce) -lm || return 1
    sh "$src/examples/installed/loads_from.sh" "$out/minimal" "$libdir/libsoftce.so.$abi" &&
        expect_output "$minimal_regex" "$out/minimal" &&
        expect_output '^epoch 12 ' "$out/demo"
}

c_with_find_package() {
    cmake -S "$src/examples/installed" -B "$work/installed" -DCMAKE_BUILD_TYPE=Release &&
        cmake --build "$work/installed" -j2 &&
        ctest --test-dir "$work/installed" --output-on-failure
}

tutorials() {
    "$python" "$src/docs/check_tutorials.py" --cc="${CC:-cc}" \
        --cflags="$(pkg-config --cflags softce)" --libs="$(pkg-config --libs softce)" \
        --python="$python" --work="$work/tutorials" \
        "$src/docs/tutorial-c.md" "$src/docs/tutorial-python.md"
}

# Every examples/*.py (numpy example, PyTorch training loop, ...), loading the packaged
# library through the system loader (LD_LIBRARY_PATH here; ldconfig after a real install).
python_examples() {
    local loaded script ok=0
    # The file the process mapped (softce.library_path() may be a bare soname).
    loaded=$("$python" -c 'import softce; softce.version()
print(next(l.split()[-1] for l in open("/proc/self/maps") if "libsoftce" in l))') || return 1
    [ "$(readlink -f "$loaded")" = "$(readlink -f "$libdir/libsoftce.so.$abi")" ] ||
        { echo "Python loads $loaded, not the package's library" && return 1; }
    echo "softce loads $loaded"
    for script in "$src"/examples/*.py; do
        echo "-- python3 ${script#"$src"/}"
        (cd "$work" && "$python" "$script") || ok=1
    done
    return $ok
}

torch_dropin_tests() {
    local t
    for t in test_torch_dropin test_torch_training; do
        echo "-- python3 tests/python/$t.py"
        (cd "$work" && "$python" "$src/tests/python/$t.py") || return 1
    done
}

rust_example() {
    local cargo
    cargo=$(find_cargo)
    [ -n "$cargo" ] || { echo "cargo not found: run .ci/setup" && return 1; }
    "$cargo" --version
    (cd "$src/examples/rust" &&
        CARGO_TARGET_DIR=$work/rust "$cargo" test --offline &&
        expect_output "$minimal_regex" \
            env CARGO_TARGET_DIR="$work/rust" "$cargo" run --offline -q --example minimal)
}

fortran_with_pkg_config() {
    local out=$work/fortran-pc
    mkdir -p "$out"
    # shellcheck disable=SC2046
    (cd "$out" && gfortran -std=f2018 -Wall -Wextra -Werror -pedantic \
        "$src/examples/fortran/softce.f90" "$src/examples/fortran/check_loss.f90" \
        -o check_loss $(pkg-config --libs softce)) &&
        expect_output 'fortran: [0-9]+ passed, 0 failed' "$out/check_loss"
}

fortran_with_find_package() {
    cmake -S "$src/examples/fortran" -B "$work/fortran" -DCMAKE_BUILD_TYPE=Release &&
        cmake --build "$work/fortran" &&
        ctest --test-dir "$work/fortran" --output-on-failure
}

man_pages() {
    command -v man >/dev/null || { echo "man not installed: skipped" && return 0; }
    local page
    for page in softce_forward softce_version; do
        MANPATH=$root/usr/share/man MANPAGER=cat MANWIDTH=80 man 3 "$page" 2>/dev/null |
            grep -q "$page" || { echo "man $page did not render" && return 1; }
    done
    echo "man 3 softce_forward, man 3 softce_version (a .so link): ok"
}

build_packages
check "package control fields" check_control
check "package contents" check_contents
check "no build paths in the packages" check_no_build_paths
check "Depends resolve (apt-get -s)" check_depends_resolve
install_scratch_root
check "C with pkg-config" c_with_pkg_config
check "C with find_package" c_with_find_package
check "tutorials (C and Python)" tutorials
check "Python examples" python_examples
check "Rust (cargo test --offline)" rust_example
check "Fortran with pkg-config" fortran_with_pkg_config
check "Fortran with find_package" fortran_with_find_package
check "man pages" man_pages
check "PyTorch drop-in tests (softce.torch, gradcheck)" torch_dropin_tests

log "summary"
for f in "${failures[@]+"${failures[@]}"}"; do
    echo "failed: $f"
done
echo "packages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
