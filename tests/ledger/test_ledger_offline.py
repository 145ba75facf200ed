"""The export verifier runs anywhere: it needs no database, so it loads neither the store nor
SQLAlchemy nor gRPC."""

from __future__ import annotations

import subprocess
import sys


def test_the_offline_verifier_imports_nothing_of_the_store_or_the_server() -> None:
    probe = (
        "import sys, gateway.ledger.offline as o; "
        "assert callable(o.verify_export); "
        "print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('sqlalchemy', 'grpc') or m.startswith('gateway.store')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
