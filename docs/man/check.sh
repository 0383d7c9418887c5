#!/bin/sh
# check.sh VERSION PAGE...: every man page renders without a groff warning, and its .TH line
# names libsoftce VERSION. Run from docs/man (the .so links are relative to docs/).
# Exit 77 (skipped) when groff is not installed.
set -eu
version=$1
shift
command -v groff >/dev/null 2>&1 || { echo "groff not found"; exit 77; }
status=0
for page in "$@"; do
    if grep -q '^\.so ' "$page"; then
        target=$(sed -n 's/^\.so man3\///p' "$page")
        [ -f "$target" ] || { echo "FAIL $page: .so target $target missing"; status=1; }
        continue
    fi
    grep -q "^\.TH [A-Z_]* 3 [0-9-]* \"libsoftce $version\" " "$page" ||
        { echo "FAIL $page: .TH does not name libsoftce $version"; status=1; }
    out=$(groff -t -man -ww -z "$page" 2>&1) || status=1
    [ -z "$out" ] || { echo "FAIL $page: $out"; status=1; }
done
[ $status -eq 0 ] && echo "$# man pages ok"
exit $status
