"""Regenerate the Python code for the AidBridge API from proto/aidbridge/v1/*.proto.

    python proto/generate.py          # rewrite the generated files
    python proto/generate.py --check  # exit 1 if any generated file is stale (CI)

The generated modules live beside their .proto files and are importable as ``aidbridge.v1``.
"""

from __future__ import annotations

import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parent
PACKAGE_DIR = PROTO_ROOT / "aidbridge" / "v1"
SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def _generate(out_dir: Path) -> list[Path]:
    from grpc_tools import protoc  # test extra; imported here so --help works without it

    include = Path(protoc.__file__).resolve().parent / "_proto"
    sources = sorted(PACKAGE_DIR.glob("*.proto"))
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *(str(s.relative_to(PROTO_ROOT)) for s in sources),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return sorted((out_dir / "aidbridge" / "v1").glob("*_pb2*"))


def main(argv: list[str]) -> int:
    check = "--check" in argv
    with tempfile.TemporaryDirectory() as tmp:
        generated = _generate(Path(tmp))
        stale = []
        for path in generated:
            target = PACKAGE_DIR / path.name
            if not target.exists() or not filecmp.cmp(path, target, shallow=False):
                stale.append(target.name)
                if not check:
                    shutil.copyfile(path, target)
        names = {p.name for p in generated}
        orphans = [
            p.name
            for p in PACKAGE_DIR.iterdir()
            if p.name.endswith(SUFFIXES) and p.name not in names
        ]
    if check:
        if stale or orphans:
            print(
                f"generated code is stale: {sorted(stale + orphans)}; run python proto/generate.py"
            )
            return 1
        print("generated code is current")
        return 0
    for name in orphans:
        (PACKAGE_DIR / name).unlink()
    print(f"regenerated {len(stale)} file(s), removed {len(orphans)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
