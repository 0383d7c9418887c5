#!/usr/bin/env bash
# The pip package: builds the wheel from the top of the source tree exactly as `pip install .`
# does (pip fetches the build backend, scikit-build-core, from PyPI; it drives CMake), checks
# what the wheel holds, installs it into a fresh virtual environment that also sees Debian's
# numpy and torch (--system-site-packages), and runs the Python tests against the INSTALLED
# package: no SOFTCE_LIBRARY, PYTHONPATH or LD_LIBRARY_PATH, and a working directory outside
# the source tree. Ends with "python-package: N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
python=${SOFTCE_PYTHON:-/usr/bin/python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/softce-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT

unset SOFTCE_LIBRARY PYTHONPATH LD_LIBRARY_PATH
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONDONTWRITEBYTECODE=1
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2} OMP_NUM_THREADS=2

"$python" -m venv --system-site-packages "$work/venv"
py="$work/venv/bin/python"

echo "python-package: building the wheel (pip wheel $src)"
if ! "$py" -m pip wheel --no-deps --wheel-dir "$work/dist" "$src" >"$work/build.log" 2>&1; then
    tail -n 60 "$work/build.log"
    echo "python-package: the wheel did not build" >&2
    exit 1
fi
wheel=$(echo "$work"/dist/softce-*.whl)

# The wheel holds the binding and exactly one library, softce/libsoftce.so.1, and nothing
# outside the package (no header, pkg-config or CMake files in site-packages).
"$py" - "$wheel" <<'PY'
import os, sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
libs = sorted(n for n in names if "libsoftce" in n)
stray = [n for n in names if not n.startswith("softce/") and ".dist-info/" not in n]
need = {"softce/__init__.py", "softce/torch.py", "softce/_dlpack.py", "softce/libsoftce.so.1"}
problems = []
if libs != ["softce/libsoftce.so.1"]:
    problems.append(f"libraries {libs}, want ['softce/libsoftce.so.1']")
if stray:
    problems.append(f"files outside the package: {stray}")
if need - set(names):
    problems.append(f"missing {sorted(need - set(names))}")
if problems:
    sys.exit("python-package: bad wheel: " + "; ".join(problems))
print(f"python-package: {os.path.basename(sys.argv[1])}: {len(names)} files, {libs[0]}")
PY

"$py" -m pip install --no-index --quiet "$wheel"

cd "$work"
# The installed package, and its own copy of the library, are the ones in use.
"$py" - "$src" <<'PY'
import os, sys
import softce
pkg = os.path.dirname(os.path.realpath(softce.__file__))
lib = os.path.realpath(softce.library_path())
src = os.path.realpath(sys.argv[1])
assert pkg.startswith(os.path.realpath(sys.prefix)), f"softce imported from {pkg}"
assert os.path.dirname(lib) == pkg, f"libsoftce loaded from {lib}, not from {pkg}"
assert not lib.startswith(src + os.sep), lib
print(f"python-package: softce {softce.version()} from {pkg}")
PY

passed=0 failed=0 skipped=0
for t in test_binding test_dlpack test_torch_dropin test_torch_training test_parity_torch; do
    set +e
    "$py" "$src/tests/python/$t.py" >"$work/$t.log" 2>&1
    rc=$?
    set -e
    case $rc in
    0) passed=$((passed + 1)) result=passed ;;
    77) skipped=$((skipped + 1)) result=skipped ;;
    *) failed=$((failed + 1)) result="FAILED (exit $rc)" ;;
    esac
    echo "python-package: $t (installed wheel): $result"
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then tail -n 40 "$work/$t.log"; fi
done
echo "python-package: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
