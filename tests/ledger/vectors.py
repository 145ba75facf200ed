"""Reference test vectors kept outside the repository (in the spirit of pyca/cryptography's
``load_vectors_from_file``): found from the repository root, never by an absolute path, and
never skipped silently where it matters. Missing vectors skip a test on a developer's machine
and fail it when ``CI`` is set, so CI cannot pass without having run them."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# ../shared from the repository root (a symlink to the shared material in the work layout);
# AIDBRIDGE_VECTORS points elsewhere when the vectors live somewhere else.
VECTORS_ROOT = Path(os.environ.get("AIDBRIDGE_VECTORS") or REPO_ROOT / ".." / "shared" / "vectors")

T = TypeVar("T")


def vector_dir(name: str) -> Path:
    return VECTORS_ROOT / name


def vector_files(name: str, kind: str) -> list[Path]:
    """The JSON vector files under ``<vectors>/<name>/<kind>``, sorted; [] if absent."""
    folder = vector_dir(name) / kind
    return sorted(folder.rglob("*.json")) if folder.is_dir() else []


def require_vectors(name: str, kind: str) -> None:
    """Skip the calling test when the vectors are missing, or fail it when ``CI`` is set."""
    folder = vector_dir(name) / kind
    if vector_files(name, kind):
        return
    message = (
        f"expected reference vectors under {folder} (../shared/vectors/{name}/{kind} from the "
        "repository root, or set AIDBRIDGE_VECTORS), found none"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def vector_params(name: str, kind: str) -> list[Any]:
    """Parameters for a test over every vector file: the files, or one placeholder that makes
    the test call ``require_vectors`` (skip, or fail under CI) when there are none."""
    files = vector_files(name, kind)
    if files:
        return [pytest.param(path, id=str(path.relative_to(vector_dir(name)))) for path in files]
    return [pytest.param(None, id=f"{kind}-vectors-missing")]


def load_vectors_from_file(path: Path, loader: Callable[[Any], T]) -> T:
    """Read one JSON vector file and hand its content to ``loader``."""
    with path.open(encoding="utf-8") as source:
        return loader(json.load(source))
