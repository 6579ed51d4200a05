# SPDX-License-Identifier: MIT
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# Use the package from this checkout unless an installed one is asked for.
if os.environ.get("VMDL_TEST_INSTALLED") != "1":
    sys.path.insert(0, os.path.dirname(HERE))


def guest_dir():
    return os.environ.get("VMDL_GUEST_DIR", os.path.join(ROOT, "build", "examples", "guests"))


@pytest.fixture
def guest():
    def path(rel):
        p = os.path.join(guest_dir(), rel + ".elf")
        if not os.path.isfile(p):
            pytest.skip(f"example guest {p} not built")
        return p
    return path
