#!/usr/bin/env bash
# The dynamic symbol table exports exactly the functions of the public header, each under the
# version node SOFTCE_<abi>, plus the node itself; nothing else (no data, no internal names).
. "$(dirname "$0")/common.sh"

lib="$LIBDIR/libsoftce.so.$SOFTCE_VERSION"
node="SOFTCE_$SOFTCE_ABI_VERSION"
header_functions "$INCDIR/softce/softce.h" >"$SOFTCE_WORK/header.syms"
[ -s "$SOFTCE_WORK/header.syms" ] || fail "found no function declarations in the header"

: >"$SOFTCE_WORK/exported.syms"
status=0
# nm -D prints "<value> <type> <name>[@@<version>]"; the version node is an absolute symbol.
while read -r _ type sym; do
    name=${sym%%@*}
    version=${sym#"$name"}
    version=${version#@@}
    if [ "$type" = A ] && [ "$name" = "$node" ]; then
        continue
    fi
    case "$type:$name" in
    T:softce_*) echo "$name" >>"$SOFTCE_WORK/exported.syms" ;;
    *) echo "unexpected exported symbol: $type $sym" >&2 && status=1 ;;
    esac
    if [ -n "$version" ] && [ "$version" != "$node" ]; then
        echo "$name has version '$version', not $node" >&2 && status=1
    fi
done < <(nm -D --defined-only "$lib")
[ $status = 0 ] || fail "the library exports more than the API"

# The version node must be there (checked with readelf: nm need not print it).
readelf -V -W "$lib" | grep -q "Name: $node" || fail "no version definition $node"

sort -o "$SOFTCE_WORK/exported.syms" "$SOFTCE_WORK/exported.syms"
if ! diff -u "$SOFTCE_WORK/header.syms" "$SOFTCE_WORK/exported.syms"; then
    fail "exported functions (+) differ from the header's declarations (-)"
fi
count=$(wc -l <"$SOFTCE_WORK/exported.syms")
note "$count functions exported, all declared in softce.h, all at version $node"
