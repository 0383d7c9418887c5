#!/usr/bin/env bash
# Proves that abi/check.sh tells a break from a pure addition: it builds stub libraries whose
# exported functions are those of the public header (bodies generated from the prototypes),
# with the real version script and SONAME, and checks each against the committed baseline:
#   unchanged header             -> pass       one function added      -> pass (addition)
#   one function removed         -> FAIL       a struct field widened  -> FAIL
#   an enumerator renumbered     -> FAIL       a parameter type changed -> FAIL
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc=${CC:-cc}

# "SOFTCE_API <ret> <name>(<params>);" declarations of a header, one per line.
prototypes() {
    tr '\n' ' ' <"$1" | grep -oE 'SOFTCE_API [^;]*\)[[:space:]]*;' | sed -E 's/[[:space:]]+/ /g'
}

# stub <name> <header> [function to leave out] [extra C code]
stub() {
    local dir="$work/$1"
    mkdir -p "$dir/softce"
    cp "$2" "$dir/softce/softce.h"
    {
        echo '#include <softce/softce.h>'
        prototypes "$2" | grep -v "[ *]${3:-none_left_out}(" | while read -r proto; do
            body='{ return 0; }'
            case "$proto" in "SOFTCE_API void "*) body='{}' ;; esac
            echo "${proto%;} $body"
        done
        echo "${4:-}"
    } >"$dir/stub.c"
    "$cc" -g -O0 -w -shared -fPIC -fvisibility=hidden -DSOFTCE_BUILDING -I"$dir" "$dir/stub.c" \
        -Wl,--version-script="$root/src/softce.map" -Wl,-soname,libsoftce.so.1 \
        -o "$dir/libsoftce.so.1.0.0"
}

expect() { # expect <pass|fail> <variant>
    local out status=pass
    out=$(SOFTCE_ABI_HEADER="$work/$2/softce/softce.h" \
        bash "$here/check.sh" --abidiff-only "$work/$2/libsoftce.so.1.0.0" 2>&1) || status=fail
    if [ "$status" != "$1" ]; then
        echo "$out" >&2
        echo "abi selftest: FAIL: variant '$2' should $1 the check" >&2
        exit 1
    fi
    echo "abi selftest: $2: check ${status}ed, as it should"

}

h="$root/include/softce/softce.h"
sed 's/int32_t ndim; /int64_t ndim; /' "$h" >"$work/wider.h"
sed 's/SOFTCE_DTYPE_F16 = 3,/SOFTCE_DTYPE_F16 = 30,/' "$h" >"$work/enum.h"
sed 's/unsigned softce_version(void)/unsigned long softce_version(void)/' "$h" >"$work/param.h"
for f in wider enum param; do
    ! cmp -s "$h" "$work/$f.h" || { echo "abi selftest: cannot make variant $f" >&2 && exit 1; }
done
stub same "$h"
stub added "$h" "" 'SOFTCE_API int softce_selftest_added(int x); int softce_selftest_added(int x) { return x; }'
stub removed "$h" softce_log_softmax
stub wider "$work/wider.h"
stub enum "$work/enum.h"
stub param "$work/param.h"
expect pass same
expect pass added
expect fail removed
expect fail wider
expect fail enum
expect fail param
