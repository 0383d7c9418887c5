# Shared by the install tests (sourced). The CMake test driver sets the SOFTCE_* variables.
set -euo pipefail

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

note() {
    echo "-- $*"
}

: "${SOFTCE_PREFIX:?run these scripts through ctest}"
LIBDIR="$SOFTCE_PREFIX/$SOFTCE_LIBDIR"
INCDIR="$SOFTCE_PREFIX/$SOFTCE_INCLUDEDIR"
mkdir -p "$SOFTCE_WORK"

# The functions the public header declares, one per line, sorted.
header_functions() {
    "$CC" -w -fpreprocessed -dD -E -P "$1" | tr '\n' ' ' |
        grep -o 'SOFTCE_API[^;{}()]*(' | grep -o 'softce_[a-z0-9_]*($' | tr -d '(' | sort -u
}
