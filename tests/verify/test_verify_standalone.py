"""The standalone verifier runs where the gateway does not: imported in a fresh interpreter in
which SQLAlchemy, gRPC, protobuf, Alembic and every gateway module are made unimportable, it
still verifies a bundle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_BLOCKER = """
import importlib.abc, sys
BLOCKED = ("sqlalchemy", "grpc", "google", "alembic", "gateway", "aidbridge", "typer", "structlog")
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError("blocked: " + name)
        return None
sys.meta_path.insert(0, Block())
for loaded in list(sys.modules):
    if loaded.split(".")[0] in BLOCKED:
        del sys.modules[loaded]
"""


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _BLOCKER + code],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )


def test_the_blocker_really_blocks(tmp_path: Path) -> None:
    result = _run("import sqlalchemy", tmp_path)
    assert result.returncode != 0 and "blocked: sqlalchemy" in result.stderr


def test_the_verifier_imports_and_verifies_with_the_server_modules_blocked(
    tmp_path: Path,
) -> None:
    from tests.verify.synth import synthetic_bundle

    bundle = tmp_path / "b.bundle"
    vkey = synthetic_bundle(bundle, 50)
    code = (
        "import aidbridge_verify as v\n"
        f"r = v.verify_bundle({str(bundle)!r}, vkey={vkey!r})\n"
        "print('verified', r.tree_size)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in BLOCKED))\n"
    )
    result = _run(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["verified 50", "[]"]
