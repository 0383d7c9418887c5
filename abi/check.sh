#!/usr/bin/env bash
# ABI check of a built libsoftce against the committed baseline (docs/abi.md, "How it is
# checked"). Needs a build with debug information (-DCMAKE_BUILD_TYPE=RelWithDebInfo) and

#
#   abi/check.sh <build>/src/libsoftce.so.X.Y.Z           compare; exit 1 on a break
#   abi/check.sh --update <build>/src/libsoftce.so.X.Y.Z  record a reviewed change
#   abi/check.sh --exports-only <library>                 step 2 alone (any architecture, no
#                                                           debug information; NM= picks nm)
#   abi/selftest.sh                                        prove the check catches breaks
#
# 1. abidiff baseline (abi/libsoftce.abi) vs the library, leaf changes: unchanged, or only
#    additions: functions added, and fields appended to softce_options (its only changes a
#    larger size and data members inserted at or after its old end; docs/abi.md). Those pass
#    with a notice to record them; anything removed or changed fails. (A libabigail
#    suppression "has_data_member_inserted_at = end" is not used: libabigail 2.2 also
#    suppresses a widened field with it, which abi/selftest.sh proves must fail.)
# 2. Exported symbols: functions only (besides the version nodes); the default versions
#    (name@@node) are exactly the functions the public header declares, each matched by a
#    global pattern of the linker version script and carrying the node that lists it by name
#    (else the base node SOFTCE_<major>); the other versions (name@node: kept for programs
#    built against an older release, e.g. softce_options_init@SOFTCE_1) belong to a function
#    that has a default version, at an older node of the script. No name@node of the baseline
#    (abi/exports.txt) may disappear. --exports-only runs this step alone.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
update=0 abidiff_only=0 exports_only=0
case "${1:-}" in
--update) update=1 && shift ;;
--abidiff-only) abidiff_only=1 && shift ;; # used by abi/selftest.sh
--exports-only) exports_only=1 && shift ;; # used by .ci/hardening.sh cross (another ELF machine)
esac
lib=${1:?usage: abi/check.sh [--update|--exports-only] path/to/libsoftce.so.X.Y.Z}
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

exported() { # the defined functions of an nm -D listing, as "name version default|compat"
    awk '$2 == "T" {
        kind = index($3, "@@") ? "default" : "compat"
        split($3, a, "@+"); print a[1], a[2], kind }' "$1" | sort
}

header_functions() {
    "${CC:-cc}" -w -fpreprocessed -dD -E -P "$header" | tr '\n' ' ' |
        grep -o 'SOFTCE_API[^;{}()]*(' | grep -o 'softce_[a-z0-9_]*($' | tr -d '(' | sort -u
}

# ---- 1. abidiff (skipped with --exports-only) --------------------------------------------
abidiff_step() {
    # (readelf's output captured first: grep -q closing the pipe early would SIGPIPE readelf,
    # which fails the pipeline under pipefail)
    sections=$(readelf -S "$lib")
    grep -q '\.debug_info' <<<"$sections" || fail "$lib has no debug information (RelWithDebInfo)"
    describe "$lib" >"$work/current.abi"

    if [ $update = 1 ]; then
        cp "$work/current.abi" "$here/libsoftce.abi"
        awk '{ print $1 "@" $2 }' "$work/exported" >"$here/exports.txt"
        echo "abi: baseline recorded: abi/libsoftce.abi, abi/exports.txt ($(wc -l <"$here/exports.txt") functions)"
        exit 0
    fi

    # Leaf type changes other than fields appended to softce_options, one line each (empty: none).
    # A leaf block starts with "'<kind> <name>' changed:" in column 0.
    disallowed_type_changes() {
        awk '
            function bad(why) { print why; }
            /^\047[^\047]*\047 changed:$/ {
                type = $0; sub(/ changed:$/, "", type); old = -1; next }
            type == "" { next }
            /^[^ ]/ { type = ""; next }                      # end of the block
            /^$/ { next }
            type != "\047struct softce_options\047" { bad(type ": " $0); next }
            match($0, /^  type size changed from [0-9]+ to [0-9]+ \(in bits\)$/) {
                split($0, w, " "); old = w[5] + 0; if (w[7] + 0 <= old) bad(type ": shrinks"); next }
            /^  [0-9]+ data member insertions?:$/ { next }
            /^    \047.*\047, at offset [0-9]+ \(in bits\)$/ {
                n = split($0, w, " "); off = w[n - 2] + 0
                if (old < 0 || off < old) bad(type ": a field inserted before the old end: " $0)
                next }
            { bad(type ": " $0) }' "$1"
    }

    set +e
    abidiff --leaf-changes-only "$here/libsoftce.abi" "$work/current.abi" >"$work/report" 2>&1
    rc=$?
    set -e
    if [ $rc -ne 0 ]; then
        cat "$work/report"
        # bit 0: error, 1: usage error, 3: incompatible change; bit 2 alone: "some change"
        [ $((rc & 11)) -eq 0 ] || fail "abidiff exit code $rc: an incompatible change (or an error)"
        summary() { # "<removed> <changed>" of the "Removed/Changed/Added $1 summary" line
            sed -nE "s/^Removed\/Changed\/Added $1 summary: ([0-9]+) Removed, ([0-9]+) Changed.*/\1 \2/p" \
                "$work/report" | head -1
        }
        read -r fr fc <<<"$(summary functions) "
        read -r vr vc <<<"$(summary variables) "
        if [ "${fr:-0}${fc:-0}${vr:-0}${vc:-0}" != "0000" ] || grep -q 'SONAME changed' "$work/report"; then
            fail "the ABI changed in a way that is not a pure addition (report above)"
        fi
        bad=$(disallowed_type_changes "$work/report")
        [ -z "$bad" ] || fail "type changes other than fields appended to softce_options:
$bad"
        echo "abi: only additions; after review record them: abi/check.sh --update $lib"
    else
        echo "abi: abidiff: no change against abi/libsoftce.abi"
    fi
}

[ -f "$lib" ] || fail "no library at $lib"
"${NM:-nm}" -D --defined-only "$lib" >"$work/symbols"
exported "$work/symbols" >"$work/exported"
if [ $exports_only = 0 ]; then
    abidiff_step
    [ $abidiff_only = 0 ] || exit 0
fi

# ---- 2. exported symbols ------------------------------------------------------------------
others=$(awk '$2 != "T" && $2 != "A" { print $3 " (" $2 ")" }' "$work/symbols")
[ -z "$others" ] || fail "exported symbols that are neither functions nor version nodes: $others"
awk '$3 == "default" { print $1 }' "$work/exported" >"$work/names"
awk '{ print $1 "@" $2 }' "$work/exported" | sort >"$work/versioned"
header_functions >"$work/header"
diff -u "$work/header" "$work/names" >&2 ||
    fail "exports (+) differ from the header's functions (-) (default versions)"
base=$(grep -oE '^[[:space:]]*[A-Za-z0-9_.]+[[:space:]]*\{' "$map" | head -1 | tr -d ' {')
# a baseline line without @node (recorded before 1.1) is at the base node
sed "/@/!s/\$/@$base/" "$here/exports.txt" | sort >"$work/baseline"
missing=$(comm -23 "$work/baseline" "$work/versioned")
[ -z "$missing" ] || fail "symbols of the baseline are no longer exported: $missing"
added=$(comm -13 "$work/baseline" "$work/versioned")
[ -z "$added" ] || echo "abi: new exported symbols (record with --update): $added"

# Version script: global patterns, node names in order (oldest first), and the node that
# lists each function by exact name.
mapfile -t patterns < <(sed -n '/global:/,/local:/p' "$map" | sed 's#/\*.*\*/##' |
    grep -o '[A-Za-z0-9_*?]*;' | tr -d ';')
mapfile -t nodes < <(grep -oE '^[[:space:]]*[A-Za-z0-9_.]+[[:space:]]*\{' "$map" | tr -d ' {')
[ ${#patterns[@]} -gt 0 ] && [ ${#nodes[@]} -gt 0 ] || fail "cannot read $map"
node_index() { # position of a node in the script, or -1
    local i
    for i in "${!nodes[@]}"; do [ "${nodes[$i]}" = "$1" ] && echo "$i" && return; done
    echo -1
}
listed_node() { # the node whose global: section names $1 exactly, or the first node
    awk -v name="$1" -v base="${nodes[0]}" '
        { sub(/\/\*.*\*\//, "") }
        /^[[:space:]]*[A-Za-z0-9_.]+[[:space:]]*\{/ { node = $1; sub(/\{.*/, "", node) }
        /global:/ { in_global = 1 } /local:/ { in_global = 0 } /\}/ { in_global = 0 }
        in_global { gsub(/[ \t;]/, ""); if ($0 == name) found = node }
        END { print found != "" ? found : base }' "$map"
}
while read -r name version kind; do
    ok=0
    for p in "${patterns[@]}"; do
        # shellcheck disable=SC2053
        [[ $name == $p ]] && ok=1
    done
    [ $ok = 1 ] || fail "$name is exported but matches no global pattern of src/softce.map"
    [ "$(node_index "$version")" -ge 0 ] ||
        fail "$name has version '$version', not a node of src/softce.map (${nodes[*]})"
    want=$(listed_node "$name")
    if [ "$kind" = default ]; then
        [ "$version" = "$want" ] || fail "$name@@$version: src/softce.map puts it at $want"
    else
        grep -qx "$name" "$work/names" || fail "$name@$version has no default version"
        [ "$(node_index "$version")" -lt "$(node_index "$want")" ] ||
            fail "$name@$version: a kept version must be older than the default ($want)"
    fi
done <"$work/exported"
compat=$(awk '$3 == "compat" { printf " %s@%s", $1, $2 }' "$work/exported")
echo "abi: $(wc -l <"$work/names") exported functions = header = version script" \
    "(${nodes[*]}); kept older versions:${compat:- none}"
