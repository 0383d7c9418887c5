#!/usr/bin/env bash
# README.md shows examples/minimal.c and examples/example.py verbatim, and its test command is
# the one .ci/run runs.
. "$(dirname "$0")/common.sh"

readme="$SOFTCE_SOURCE_DIR/README.md"

# first_block <language>: the first fenced code block of that language in the README.
first_block() {
    awk -v open='```'"$1" '$0 == open { inside = 1; next } inside && $0 == "```" { exit }
        inside { print }' "$readme"
}

diff -u "$SOFTCE_SOURCE_DIR/examples/minimal.c" <(first_block c) ||
    fail "README's C example differs from examples/minimal.c"
diff -u "$SOFTCE_SOURCE_DIR/examples/example.py" <(first_block python) ||
    fail "README's Python example differs from examples/example.py"

# Quick start: the first two sh blocks are the two commands; the second one is CI's test step.
quick=$(awk '/^## Quick start/ { q = 1 } /^## / && !/Quick start/ { q = 0 } q' "$readme" |
    awk '$0 == "```sh" { inside = 1; next } inside && $0 == "```" { inside = 0 } inside')
[ "$(echo "$quick" | wc -l)" = 2 ] || fail "Quick start must have exactly two commands: $quick"
test_cmd=$(echo "$quick" | sed -n 2p)
grep -qxF "$test_cmd" "$SOFTCE_SOURCE_DIR/.ci/run" || fail ".ci/run does not run '$test_cmd'"
note "README examples are in sync; CI runs '$test_cmd'"
