#!/usr/bin/env bash
# cmake --install into a scratch prefix; check the files, the symlink chain and the version file.
. "$(dirname "$0")/common.sh"

rm -rf "$SOFTCE_PREFIX"
"$CMAKE_COMMAND" --install "$SOFTCE_BINARY_DIR" --prefix "$SOFTCE_PREFIX" \
    >"$SOFTCE_WORK/install.log"

real="libsoftce.so.$SOFTCE_VERSION"
soname="libsoftce.so.$SOFTCE_ABI_VERSION"
for f in "$INCDIR/softce/softce.h" "$LIBDIR/$real" "$LIBDIR/pkgconfig/softce.pc" \
    "$LIBDIR/cmake/softce/softceConfig.cmake" "$LIBDIR/cmake/softce/softceConfigVersion.cmake" \
    "$LIBDIR/cmake/softce/softceTargets.cmake"; do
    [ -f "$f" ] || fail "not installed: $f"
done
[ "$(readlink "$LIBDIR/$soname")" = "$real" ] || fail "$soname does not point to $real"
[ "$(readlink "$LIBDIR/libsoftce.so")" = "$soname" ] ||
    fail "libsoftce.so does not point to $soname"
[ ! -L "$LIBDIR/$real" ] || fail "$real is a symlink"
cmp -s "$SOFTCE_SOURCE_DIR/include/softce/softce.h" "$INCDIR/softce/softce.h" ||
    fail "installed header differs from include/softce/softce.h"

# The shared library's package must not drag OpenMP into its consumers.
! grep -il openmp "$LIBDIR"/cmake/softce/softceTargets*.cmake || fail "softceTargets: OpenMP"
grep -q '^Libs: -L${libdir} -lsoftce$' "$LIBDIR/pkgconfig/softce.pc" || fail "softce.pc: Libs"
grep -q '^prefix=${pcfiledir}/' "$LIBDIR/pkgconfig/softce.pc" || fail "softce.pc is not relocatable"
note "installed $(find "$SOFTCE_PREFIX" -type f -o -type l | wc -l) files into $SOFTCE_PREFIX"
