#!/usr/bin/env bash
# The public header compiles on its own as strict C99, C11, C++11 and C++17 (with every
# compiler found), and includes nothing but <stddef.h> and <stdint.h>.
. "$(dirname "$0")/common.sh"

header="$SOFTCE_SOURCE_DIR/include/softce/softce.h"
includes=$(grep -E '^[[:space:]]*#[[:space:]]*include' "$header" | tr -d ' \t' | sort | tr '\n' ' ')
[ "$includes" = "#include<stddef.h> #include<stdint.h> " ] ||
    fail "the header includes more than <stddef.h> and <stdint.h>: $includes"

tu="$SOFTCE_WORK/header_alone"
cat >"$tu.c" <<'TU'
#include <softce/softce.h>
/* Uses a bit of everything so unused-declaration warnings cannot hide a problem. */
int header_alone(void);
int header_alone(void) {
    softce_options opts;
    softce_tensor t;
    softce_options_init(&opts);
    t.struct_size = (uint32_t)sizeof t;
    opts.reduction = SOFTCE_REDUCTION_NONE;
    return (int)(SOFTCE_VERSION_NUMBER + SOFTCE_MAX_DIMS + opts.reduction + SOFTCE_DTYPE_BF16 +
                 SOFTCE_ERROR_INTERNAL) + (int)t.struct_size;
}
TU
cat >"$tu.cpp" <<'TU'
#include <softce/softce.h>
int header_alone();
int header_alone() {
    softce_options opts;
    softce_options_init(&opts);
    opts.reduction = SOFTCE_REDUCTION_SUM;
    softce_tensor t = softce_tensor();
    t.struct_size = sizeof t;
    return SOFTCE_VERSION_NUMBER + SOFTCE_MAX_DIMS + opts.reduction + SOFTCE_DTYPE_BF16 +
           SOFTCE_ERROR_INTERNAL + static_cast<int>(t.struct_size);
}
TU

warn="-pedantic -Wall -Wextra -Werror -Wundef -Wshadow -Wconversion -Wsign-conversion"
compilers_c=("$CC")
compilers_cxx=("$CXX")
command -v clang >/dev/null && compilers_c+=(clang) && compilers_cxx+=(clang++)
for cc in "${compilers_c[@]}"; do
    for std in c99 c11; do
        # shellcheck disable=SC2086
        "$cc" -std=$std $warn -Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition \
            -fsyntax-only -I"$SOFTCE_SOURCE_DIR/include" "$tu.c" || fail "$cc -std=$std"
        # shellcheck disable=SC2086
        "$cc" -std=$std $warn -DSOFTCE_STATIC -fsyntax-only -I"$SOFTCE_SOURCE_DIR/include" \
            "$tu.c" || fail "$cc -std=$std -DSOFTCE_STATIC"
        note "$cc -std=$std: ok"
    done
done
for cxx in "${compilers_cxx[@]}"; do
    for std in c++11 c++17; do
        # shellcheck disable=SC2086
        "$cxx" -std=$std $warn -Wold-style-cast -Wzero-as-null-pointer-constant -fsyntax-only \
            -I"$SOFTCE_SOURCE_DIR/include" "$tu.cpp" || fail "$cxx -std=$std"
        note "$cxx -std=$std: ok"
    done
done
