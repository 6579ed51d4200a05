# SPDX-License-Identifier: MIT
"""Install the virtmodel Python package (ctypes over libvirtmodel.so).

Works offline with what Debian 12 ships (python3-setuptools, or the
setuptools a python3-venv virtual environment brings): no build-time
dependency is downloaded.  The shared library is taken from, in order,
$VMDL_LIBRARY, an existing build tree of this checkout (build/ or
build-shared/ configured with -DVMDL_SHARED=ON), or built here with CMake
into build-shared/ (the C build dependencies must be present: run
scripts/deps.sh once).  It is copied into the package, with the
libunicorn.so.2 it links against when that one is not a system library.
"""
import os
import shutil
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("VMDL_SOURCE_DIR", os.path.dirname(HERE))
SYSTEM_LIB_DIRS = ("/lib/", "/usr/lib/", "/lib64/", "/usr/lib64/")


def log(msg):
    print(f"virtmodel setup: {msg}", file=sys.stderr)


def find_or_build_library():
    env = os.environ.get("VMDL_LIBRARY")
    if env:
        if not os.path.isfile(env):
            sys.exit(f"virtmodel setup: VMDL_LIBRARY={env} does not exist")
        return env
    for d in ("build", "build-shared"):
        cand = os.path.join(ROOT, d, "libvirtmodel.so")
        if os.path.isfile(cand):
            return cand
    if not os.path.isfile(os.path.join(ROOT, "CMakeLists.txt")):
        sys.exit("virtmodel setup: no libvirtmodel.so and no virtmodel source tree "
                 f"at {ROOT}; set VMDL_LIBRARY or VMDL_SOURCE_DIR")
    out = os.path.join(ROOT, "build-shared")
    log(f"building libvirtmodel.so in {out} (CMake, -DVMDL_SHARED=ON)")
    try:
        subprocess.run(["cmake", "-S", ROOT, "-B", out, "-DCMAKE_BUILD_TYPE=Release",
                        "-DVMDL_SHARED=ON", "-DVMDL_BUILD_TESTS=OFF",
                        "-DVMDL_BUILD_BENCH=OFF", "-DVMDL_BUILD_GUESTS=OFF"],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["cmake", "--build", out, "--target", "virtmodel_shared",
                        "-j", str(os.cpu_count() or 2)], check=True,
                       stdout=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"virtmodel setup: building libvirtmodel.so failed ({e}); run "
                 "scripts/deps.sh in the checkout first (Debian packages, Unicorn 2.1)")
    return os.path.join(out, "libvirtmodel.so")


def private_unicorn(lib):
    """The libunicorn.so.2 that lib resolves to, when it is not the system's."""
    try:
        out = subprocess.run(["ldd", lib], check=True, capture_output=True,
                             text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0].startswith("libunicorn.so") and "=>" in parts:
            path = parts[parts.index("=>") + 1]
            if os.path.isfile(path) and not path.startswith(SYSTEM_LIB_DIRS):
                return path
    return None


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        lib = find_or_build_library()
        dest = os.path.join(self.build_lib, "virtmodel")
        os.makedirs(dest, exist_ok=True)
        shutil.copy2(lib, os.path.join(dest, "libvirtmodel.so"))
        log(f"bundled {lib}")
        uc = private_unicorn(lib)
        if uc:
            shutil.copy2(uc, os.path.join(dest, "libunicorn.so.2"))
            log(f"bundled {uc}")


setup(
    name="virtmodel",
    version="0.1.0",
    description="Python bindings (ctypes) for virtmodel: KVM vCPU state "
                "models driven by guest code on Unicorn",
    license="MIT",
    packages=["virtmodel"],
    python_requires=">=3.9",
    cmdclass={"build_py": BuildWithLibrary},
    zip_safe=False,
)
