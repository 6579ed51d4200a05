#!/usr/bin/env python3
"""Check a virtmodel-run JSON Lines trace: every line one JSON object with
the documented fields and types (docs/trace.md).
usage: check_jsonl.py TRACE ARCH MIN_RECORDS [REASON...]"""
import json
import re
import sys

FIELDS = {"seq": int, "vcpu": int, "reason": str, "pc": str, "bytes": str,
          "disasm": str, "outcome": str, "insns": int, "exact": bool}


def main():
    path, arch, minimum = sys.argv[1], sys.argv[2], int(sys.argv[3])
    want = set(sys.argv[4:])
    seen = set()
    n = 0
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            rec = json.loads(raw.decode("utf-8"))  # strict: bad UTF-8 fails
            assert isinstance(rec, dict), f"line {n}: not an object"
            for k, t in FIELDS.items():
                assert isinstance(rec.get(k), t), f"line {n}: {k} is not {t.__name__}"
            assert rec["seq"] == n - 1, f"line {n}: seq {rec['seq']}"
            assert re.fullmatch(r"0x[0-9a-f]+", rec["pc"]), f"line {n}: pc"
            assert re.fullmatch(r"([0-9a-f]{2}){0,15}", rec["bytes"]), f"line {n}: bytes"
            assert ("tsc" in rec) == (arch == "x86_64"), f"line {n}: tsc"
            if arch == "arm64" and rec["bytes"]:
                assert len(rec["bytes"]) == 8, f"line {n}: arm64 insn is 4 bytes"
            seen.add(rec["reason"])
    assert n >= minimum, f"{n} records, expected at least {minimum}"
    assert want <= seen, f"reasons {sorted(want - seen)} missing (saw {sorted(seen)})"
    print(f"{path}: {n} records, reasons {sorted(seen)}")


if __name__ == "__main__":
    main()
