#!/usr/bin/env bash
# ABI check of a built libsoftce against the committed baseline (docs/abi.md, "How it is
# checked"). Needs a build with debug information (-DCMAKE_BUILD_TYPE=RelWithDebInfo) and
# libabigail (abigail-tools).
#
#   abi/check.sh <build>/src/libsoftce.so.X.Y.Z           compare; exit 1 on a break
#   abi/check.sh --update <build>/src/libsoftce.so.X.Y.Z  record a reviewed change
#   abi/selftest.sh                                        prove the check catches breaks
#
# 1. abidiff baseline (abi/libsoftce.abi) vs the library: unchanged, or only functions added
#    (a pure addition: passes with a notice to record it); anything removed or changed fails.
# 2. Exported symbols: exactly the functions the public header declares, every one matched by
#    a global pattern of the linker version script and carrying one of its version nodes; none
#    of the baseline's (abi/exports.txt) may disappear.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
update=0 abidiff_only=0
case "${1:-}" in
--update) update=1 && shift ;;
--abidiff-only) abidiff_only=1 && shift ;; # used by abi/selftest.sh
esac
lib=${1:?usage: abi/check.sh [--update] path/to/libsoftce.so.X.Y.Z}
header="${SOFTCE_ABI_HEADER:-$root/include/softce/softce.h}"
map="$root/src/softce.map"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
    echo "abi: FAIL: $*" >&2
    exit 1
}

# abidw with deterministic output: only the exported functions and the public header's types
# (internal refactoring never changes the file), no corpus or build-directory paths, no source
# locations (editing a comment does not churn it), compilation units named relative to the
# source tree, and no empty unit.
describe() {
    abidw --no-corpus-path --no-comp-dir-path --no-show-locs --exported-interfaces-only \
        --headers-dir "$(dirname "$header")" --drop-private-types "$1" |
        sed -E "s#path='[^']*/(src/[^']*)'#path='\\1'#" |
        awk '/<abi-instr .*[^/]>$/ { held = $0; next }           # hold an opening line
             held != "" && /<\/abi-instr>/ { held = ""; next }   # drop empty units
             held != "" { print held; held = "" } { print }'
}

exported() { # defined dynamic function symbols as "name version"
    nm -D --defined-only "$1" | awk '$2 == "T" { split($3, a, "@@"); print a[1], a[2] }' | sort
}

header_functions() {
    "${CC:-cc}" -w -fpreprocessed -dD -E -P "$header" | tr '\n' ' ' |
        grep -o 'SOFTCE_API[^;{}()]*(' | grep -o 'softce_[a-z0-9_]*($' | tr -d '(' | sort -u
}

[ -f "$lib" ] || fail "no library at $lib"
readelf -S "$lib" | grep -q '\.debug_info' || fail "$lib has no debug information (RelWithDebInfo)"
describe "$lib" >"$work/current.abi"
exported "$lib" >"$work/exported"

if [ $update = 1 ]; then
    cp "$work/current.abi" "$here/libsoftce.abi"
    awk '{ print $1 }' "$work/exported" >"$here/exports.txt"
    echo "abi: baseline recorded: abi/libsoftce.abi, abi/exports.txt ($(wc -l <"$here/exports.txt") functions)"
    exit 0
fi

# ---- 1. abidiff ---------------------------------------------------------------------------
set +e
abidiff "$here/libsoftce.abi" "$work/current.abi" >"$work/report" 2>&1
rc=$?
set -e
if [ $rc -ne 0 ]; then
    cat "$work/report"
    # bit 0: error, 1: usage error, 3: incompatible change; bit 2 alone: "some change"
    [ $((rc & 11)) -eq 0 ] || fail "abidiff exit code $rc: an incompatible change (or an error)"
    summary() { # "<removed> <changed>" of the "$1 changes summary" line
        sed -nE "s/^$1 changes summary: ([0-9]+) Removed(, ([0-9]+) Changed)?.*/\\1 \\3/p" \
            "$work/report" | head -1
    }
    read -r fr fc <<<"$(summary Functions) "
    read -r vr vc <<<"$(summary Variables) "
    if [ "${fr:-0}${fc:-0}${vr:-0}${vc:-0}" != "0000" ] || grep -q 'SONAME changed' "$work/report"; then
        fail "the ABI changed in a way that is not a pure addition (report above)"
    fi
    echo "abi: only additions; after review record them: abi/check.sh --update $lib"
else
    echo "abi: abidiff: no change against abi/libsoftce.abi"
fi

[ $abidiff_only = 0 ] || exit 0

# ---- 2. exported symbols ------------------------------------------------------------------
awk '{ print $1 }' "$work/exported" >"$work/names"
header_functions >"$work/header"
diff -u "$work/header" "$work/names" >&2 || fail "exports (+) differ from the header's functions (-)"
missing=$(comm -23 "$here/exports.txt" "$work/names")
[ -z "$missing" ] || fail "functions of the baseline are no longer exported: $missing"
added=$(comm -13 "$here/exports.txt" "$work/names")
[ -z "$added" ] || echo "abi: new exported functions (record with --update): $added"

# Version script: global patterns and node names.
mapfile -t patterns < <(sed -n '/global:/,/local:/p' "$map" | grep -o '[A-Za-z0-9_*?]*;' | tr -d ';')
mapfile -t nodes < <(grep -oE '^[[:space:]]*[A-Za-z0-9_.]+[[:space:]]*\{' "$map" | tr -d ' {')
[ ${#patterns[@]} -gt 0 ] && [ ${#nodes[@]} -gt 0 ] || fail "cannot read $map"
while read -r name version; do
    ok=0
    for p in "${patterns[@]}"; do
        # shellcheck disable=SC2053
        [[ $name == $p ]] && ok=1
    done
    [ $ok = 1 ] || fail "$name is exported but matches no global pattern of src/softce.map"
    printf '%s\n' "${nodes[@]}" | grep -qx "$version" ||
        fail "$name has version '$version', not a node of src/softce.map (${nodes[*]})"
done <"$work/exported"
echo "abi: $(wc -l <"$work/names") exported functions = header = version script (${nodes[*]})"
