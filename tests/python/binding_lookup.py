"""Library lookup order of the softce binding, checked in fresh interpreters.

Order: SOFTCE_LIBRARY, else libsoftce.so* next to the package, else the system loader. Each case
copies the package into a temporary directory, arranges the files and environment, and asks a
child interpreter which file it mapped (/proc/self/maps), so the check does not trust the
binding's own report alone.
"""

import ctypes.util
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import softce

_PROBE = """
import softce
try:
    path = softce.library_path()
except OSError as e:
    print("OSError", e)
    raise SystemExit(0)
maps = {l.split()[-1] for l in open("/proc/self/maps") if "libsoftce" in l}
print("OK", path, softce.version(), *sorted(maps), sep="|")
"""


class LookupTests(unittest.TestCase):
    def setUp(self):
        self.lib = os.environ.get("SOFTCE_LIBRARY")
        if not self.lib or not os.path.exists(self.lib):
            self.skipTest("SOFTCE_LIBRARY does not name the built library")
        self.real = os.path.realpath(self.lib)
        self.tmp = tempfile.mkdtemp(prefix="softce-lookup-")
        self.addCleanup(shutil.rmtree, self.tmp)
        self.pkg = os.path.join(self.tmp, "softce")
        src = os.path.dirname(softce.__file__)
        shutil.copytree(src, self.pkg,
                        ignore=shutil.ignore_patterns("__pycache__", "libsoftce.so*"))

    def probe(self, env_lib=None, ld_path=None):
        env = {k: v for k, v in os.environ.items()
               if k not in ("SOFTCE_LIBRARY", "LD_LIBRARY_PATH")}
        env["PYTHONPATH"] = self.tmp
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        if env_lib is not None:
            env["SOFTCE_LIBRARY"] = env_lib
        if ld_path is not None:
            env["LD_LIBRARY_PATH"] = ld_path
        r = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip()

    def put(self, name, garbage=False):
        path = os.path.join(self.pkg, name)
        if garbage:
            with open(path, "w") as f:
                f.write("not a shared library\n")
        else:
            shutil.copy(self.real, path)
        return path

    def assert_loaded(self, out, path, mapped):
        fields = out.split("|")
        self.assertEqual(fields[0], "OK", out)
        self.assertEqual(fields[1], path)
        self.assertEqual(fields[2], "1.1.0")
        self.assertEqual([os.path.realpath(p) for p in fields[3:]], [os.path.realpath(mapped)])

    def test_env_wins_over_package_dir(self):
        self.put("libsoftce.so.1", garbage=True)
        self.assert_loaded(self.probe(env_lib=self.lib), self.lib, self.real)

    def test_env_has_no_fallback(self):
        self.put("libsoftce.so.1")
        out = self.probe(env_lib=os.path.join(self.tmp, "missing.so"))
        self.assertTrue(out.startswith("OSError") and "SOFTCE_LIBRARY" in out, out)

    def test_package_dir(self):
        path = self.put("libsoftce.so.1")
        self.assert_loaded(self.probe(), path, path)

    def test_package_dir_wins_over_system(self):
        self.put("libsoftce.so.1", garbage=True)
        out = self.probe(ld_path=os.path.dirname(self.real))
        self.assertTrue(out.startswith("OSError"), out)

    def test_system_loader(self):
        self.put("libsoftce.so.2")  # another ABI major next to the package: ignored
        out = self.probe(ld_path=os.path.dirname(self.real))
        self.assertEqual(out.split("|")[0], "OK", out)
        self.assertEqual([os.path.realpath(p) for p in out.split("|")[3:]], [self.real])

    def test_not_found_is_lazy(self):
        if ctypes.util.find_library("softce"):
            self.skipTest("a libsoftce is installed system-wide")
        out = self.probe()
        self.assertTrue(out.startswith("OSError") and "not found" in out, out)
