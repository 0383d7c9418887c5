#!/usr/bin/env bash
# The dynamic symbol table exports exactly the functions of the public header, each at its
# default version: the node of src/softce.map that lists it by name (SOFTCE_1.1 for functions
# added in 1.1 and for softce_options_init, whose struct grew), else the base node
# SOFTCE_<abi>. Besides, exactly the older versions kept for programs built against an older
# release (softce_options_init@SOFTCE_1, which fills only the 40 bytes of the 1.0 options:
# docs/abi.md), and the version nodes themselves; nothing else (no data, no internal names).
. "$(dirname "$0")/common.sh"

lib="$LIBDIR/libsoftce.so.$SOFTCE_VERSION"
map="$SOFTCE_SOURCE_DIR/src/softce.map"
base="SOFTCE_$SOFTCE_ABI_VERSION"
kept_expected="softce_options_init@SOFTCE_1" # name@node of every kept older version

header_functions "$INCDIR/softce/softce.h" >"$SOFTCE_WORK/header.syms"
[ -s "$SOFTCE_WORK/header.syms" ] || fail "found no function declarations in the header"
mapfile -t nodes < <(grep -oE '^[[:space:]]*[A-Za-z0-9_.]+[[:space:]]*\{' "$map" | tr -d ' {')
[ "${nodes[0]:-}" = "$base" ] || fail "the first node of $map is not $base"

# The node whose global: section lists $1 by exact name, else the base node.
listed_node() {
    awk -v name="$1" -v base="$base" '
        { sub(/\/\*.*\*\//, "") }
        /^[[:space:]]*[A-Za-z0-9_.]+[[:space:]]*\{/ { node = $1; sub(/\{.*/, "", node) }
        /global:/ { in_global = 1 } /local:/ { in_global = 0 } /\}/ { in_global = 0 }
        in_global { gsub(/[ \t;]/, ""); if ($0 == name) found = node }
        END { print found != "" ? found : base }' "$map"
}

: >"$SOFTCE_WORK/exported.syms"
: >"$SOFTCE_WORK/kept.syms"
status=0
# nm -D prints "<value> <type> <name>[@@<default version>|@<older version>]"; each version
# node is an absolute symbol.
while read -r _ type sym; do
    name=${sym%%@*}
    version=${sym#"$name"}
    if [ "$type" = A ]; then
        printf '%s\n' "${nodes[@]}" | grep -qx "$name" ||
            { echo "unexpected absolute symbol: $sym" >&2 && status=1; }
        continue
    fi
    case "$type:$name" in
    T:softce_*) ;;
    *) echo "unexpected exported symbol: $type $sym" >&2 && status=1 && continue ;;
    esac
    case "$version" in
    @@*)
        echo "$name" >>"$SOFTCE_WORK/exported.syms"
        want=$(listed_node "$name")
        [ "${version#@@}" = "$want" ] ||
            { echo "$name has default version '${version#@@}', not $want" >&2 && status=1; }
        ;;
    @*) echo "$name$version" >>"$SOFTCE_WORK/kept.syms" ;;
    *) echo "$name has no symbol version" >&2 && status=1 ;;
    esac
done < <(nm -D --defined-only "$lib")
[ $status = 0 ] || fail "the library exports more than the API, or at the wrong versions"

# Every node of the version script is defined, each one after the first inheriting the one
# before it (readelf: nm need not print them).
readelf -V -W "$lib" >"$SOFTCE_WORK/versions"
for node in "${nodes[@]}"; do
    grep -q "Name: $node\$" "$SOFTCE_WORK/versions" || fail "no version definition $node"
done
for ((i = 1; i < ${#nodes[@]}; i++)); do
    grep -A1 "Name: ${nodes[$i]}\$" "$SOFTCE_WORK/versions" | grep -q "Parent 1: ${nodes[$((i - 1))]}\$" ||
        fail "${nodes[$i]} does not inherit ${nodes[$((i - 1))]}"
done

sort -o "$SOFTCE_WORK/exported.syms" "$SOFTCE_WORK/exported.syms"
if ! diff -u "$SOFTCE_WORK/header.syms" "$SOFTCE_WORK/exported.syms"; then
    fail "exported functions (+) differ from the header's declarations (-)"
fi
sort -o "$SOFTCE_WORK/kept.syms" "$SOFTCE_WORK/kept.syms"
if ! diff -u <(printf '%s\n' $kept_expected | sort) "$SOFTCE_WORK/kept.syms"; then
    fail "kept older versions (+) differ from the expected ones (-)"
fi
count=$(wc -l <"$SOFTCE_WORK/exported.syms")
newer=$(grep -c '' < <(nm -D --defined-only "$lib" | grep -v "@@$base\$" | grep '@@') || true)
note "$count functions exported, all declared in softce.h ($newer at a later node than $base);" \
    "kept: $kept_expected"
