#!/bin/sh
# loads_from.sh PROGRAM LIBRARY: PROGRAM's libsoftce resolves (ldd) to the file LIBRARY.
set -eu
loaded=$(ldd "$1" | sed -n 's/^[[:space:]]*libsoftce[^ ]* => \(.*\) (0x[0-9a-f]*)$/\1/p')
if [ -z "$loaded" ] || [ "$(readlink -f "$loaded")" != "$(readlink -f "$2")" ]; then
    echo "$1 loads libsoftce from '$loaded', not $2" >&2
    exit 1
fi
echo "$1 -> $loaded"
