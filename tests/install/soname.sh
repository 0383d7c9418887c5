#!/usr/bin/env bash
# SONAME is libsoftce.so.<abi>; the library is position independent and self-contained.
. "$(dirname "$0")/common.sh"

lib="$LIBDIR/libsoftce.so.$SOFTCE_VERSION"
dyn=$(readelf -d -W "$lib")
soname=$(echo "$dyn" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libsoftce.so.$SOFTCE_ABI_VERSION" ] ||
    fail "SONAME is '$soname', want libsoftce.so.$SOFTCE_ABI_VERSION"
! echo "$dyn" | grep -q TEXTREL || fail "the library has text relocations"
! echo "$dyn" | grep -q '(RPATH)\|(RUNPATH)' || fail "the installed library has an RPATH"
# Linked with --no-undefined: every symbol it needs comes from a NEEDED library.
echo "$dyn" | grep -q '(NEEDED).*\[libc\.so' || fail "libc is not NEEDED"
note "SONAME $soname; needs:$(echo "$dyn" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/ \1/p' | tr -d '\n')"
