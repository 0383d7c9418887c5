#!/usr/bin/env bash
# Proves that abi/check.sh tells a break from a pure addition: it builds stub libraries whose
# exported functions are those of the public header (bodies generated from the prototypes),
# with the real version script and SONAME, plus the older symbol versions the baseline keeps
# (e.g. softce_options_init@SOFTCE_1, via .symver), and checks each against the committed
# baseline:
#   unchanged header             -> pass       one function added          -> pass (addition)
#   a field appended to softce_options -> pass (docs/abi.md allows it)
#   one function removed         -> FAIL       a softce_tensor field widened -> FAIL
#   an enumerator renumbered     -> FAIL       a parameter type changed     -> FAIL
#   a field inserted in the middle of softce_options, a softce_options field widened,
#   a field appended to softce_tensor -> FAIL
#   an older symbol version dropped -> FAIL (full check: abidiff and the exports)
#   --exports-only: unchanged -> pass; a function the header lacks, an exported variable -> FAIL
# SOFTCE_ABI_KEEP=1 keeps the stubs (in a mktemp directory) for inspection.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
work=$(mktemp -d)
trap '[ -n "${SOFTCE_ABI_KEEP:-}" ] || rm -rf "$work"' EXIT
cc=${CC:-cc}

# "SOFTCE_API <ret> <name>(<params>);" declarations of a header, one per line.
prototypes() {
    tr '\n' ' ' <"$1" | grep -oE 'SOFTCE_API [^;]*\)[[:space:]]*;' | sed -E 's/[[:space:]]+/ /g'
}

# Older symbol versions kept by the baseline: "name version decl-name" (the decl name is the
# function that implements it in the library, e.g. softce1_0_options_init).
kept_versions() {
    sed -n "s/.*<elf-symbol name='\([^']*\)' version='\([^']*\)' is-default-version='no'.*/\1 \2/p" \
        "$here/libsoftce.abi" | while read -r name version; do
        decl=$(sed -n "s/.*<function-decl name='\([^']*\)'.*elf-symbol-id='$name@$version'.*/\1/p" \
            "$here/libsoftce.abi" | head -1)
        echo "$name $version ${decl:-${name}_$version}"
    done
}

body_of() { # a body that compiles for the prototype $1
    case "$1" in "SOFTCE_API void "*) echo '{}' ;; *) echo '{ return 0; }' ;; esac
}

# stub <name> <header> [function to leave out] [extra C code] [no-kept]
stub() {
    local dir="$work/$1"
    mkdir -p "$dir/softce"
    cp "$2" "$dir/softce/softce.h"
    {
        echo '#include <softce/softce.h>'
        prototypes "$2" | grep -v "[ *]${3:-none_left_out}(" | while read -r proto; do
            echo "${proto%;} $(body_of "$proto")"
        done
        [ -n "${5:-}" ] || kept_versions | while read -r name version decl; do
            proto=$(prototypes "$2" | grep "[ *]$name(" | sed "s/\([ *]\)$name(/\1$decl(/")
            [ -n "$proto" ] || continue
            echo "__attribute__((symver(\"$name@$version\"))) ${proto%;};"
            echo "${proto#SOFTCE_API }" | sed "s/;\$/ $(body_of "$proto")/"
        done
        echo "${4:-}"
    } >"$dir/stub.c"
    "$cc" -g -O0 -w -shared -fPIC -fvisibility=hidden -DSOFTCE_BUILDING -I"$dir" "$dir/stub.c" \
        -Wl,--version-script="$root/src/softce.map" -Wl,-soname,libsoftce.so.1 \
        -o "$dir/libsoftce.so.$version"
}

expect() { # expect <pass|fail> <variant> [full|exports]: abidiff only, the full check, or
    # the exports alone (--exports-only, as the cross-build step runs it)
    local out status=pass mode=--abidiff-only
    case "${3:-}" in full) mode= ;; exports) mode=--exports-only ;; esac
    out=$(SOFTCE_ABI_HEADER="$work/$2/softce/softce.h" \
        bash "$here/check.sh" $mode "$work/$2/libsoftce.so.$version" 2>&1) || status=fail
    if [ "$status" != "$1" ]; then
        echo "$out" >&2
        echo "abi selftest: FAIL: variant '$2' should $1 the check" >&2
        exit 1
    fi
    echo "abi selftest: $2: check ${status}ed, as it should"

}

h="$root/include/softce/softce.h"
version=$(sed -n 's/^#define SOFTCE_VERSION_STRING "\(.*\)"/\1/p' "$h")
[ -n "$version" ] || { echo "abi selftest: no SOFTCE_VERSION_STRING in $h" >&2 && exit 1; }
sed 's/int32_t ndim; /int64_t ndim; /' "$h" >"$work/wider.h"
sed 's/SOFTCE_DTYPE_F16 = 3,/SOFTCE_DTYPE_F16 = 30,/' "$h" >"$work/enum.h"
sed 's/unsigned softce_version(void)/unsigned long softce_version(void)/' "$h" >"$work/param.h"
sed 's/^} softce_options;/    double selftest_appended;\n} softce_options;/' "$h" >"$work/opt_appended.h"
sed 's/^\([[:space:]]*\)double softcap;/\1double selftest_inserted;\n&/' "$h" >"$work/opt_inserted.h"
sed 's/^\([[:space:]]*\)int32_t denominator;/\1int64_t denominator;/' "$h" >"$work/opt_wider.h"
sed 's/^} softce_tensor;/    int64_t selftest_appended;\n} softce_tensor;/' "$h" >"$work/tensor_appended.h"
for f in wider enum param opt_appended opt_inserted opt_wider tensor_appended; do
    ! cmp -s "$h" "$work/$f.h" || { echo "abi selftest: cannot make variant $f" >&2 && exit 1; }
done
stub same "$h"
stub added "$h" "" 'SOFTCE_API int softce_selftest_added(int x); int softce_selftest_added(int x) { return x; }'
stub removed "$h" softce_log_softmax
stub wider "$work/wider.h"
stub enum "$work/enum.h"
stub param "$work/param.h"
stub opt_appended "$work/opt_appended.h"
stub opt_inserted "$work/opt_inserted.h"
stub opt_wider "$work/opt_wider.h"
stub tensor_appended "$work/tensor_appended.h"
expect pass same
expect pass added
expect pass opt_appended
expect fail removed
expect fail wider
expect fail enum
expect fail param
expect fail opt_inserted
expect fail opt_wider
expect fail tensor_appended
stub data "$h" "" 'SOFTCE_API int softce_selftest_data; int softce_selftest_data = 1;'
expect pass same exports
expect fail added exports
expect fail data exports
if [ -n "$(kept_versions)" ]; then # the baseline keeps older versions: dropping one breaks
    stub kept_dropped "$h" "" "" no-kept
    expect pass same full
    expect fail kept_dropped full
fi
