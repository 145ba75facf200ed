"""The one configuration loader: ``aidbridge.toml`` in a working directory, then environment
overrides (``AIDBRIDGE_<KEY>``), then explicit arguments.

A working directory made by ``aidbridge init`` holds everything a gateway needs::

    aidbridge.toml       this configuration
    certs/               ca.pem, server.pem/.key, one <org>.pem/.key per organisation
    keys/master.key      the master secret (0600); every other key is derived from it
    keys/checkpoint.vkey the ledger's public verifier key (C2SP signed-note format)
    policies/            the Rego bundle in force
    aidbridge.db         the SQLite store (unless db_url points elsewhere)
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

CONFIG_FILE = "aidbridge.toml"
REPO_POLICIES = Path(__file__).resolve().parent.parent / "policies"


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness the gateway asks for cosignatures (C2SP tlog-witness): its key name, its
    cosignature vkey, and the URL prefix of its add-checkpoint endpoint. In aidbridge.toml::

        witness_quorum = 2          # publish a checkpoint only once 2 witnesses cosigned it
        [[witnesses]]
        name = "supervision.jiangbei.example/witness"
        vkey = "supervision.jiangbei.example/witness+1a2b3c4d+BE..."
        url = "http://10.0.0.7:7380"
    """

    name: str
    vkey: str
    url: str


@dataclass(frozen=True)
class Config:
    work_dir: Path
    db_url: str = ""
    listen: str = "127.0.0.1:50051"
    bundle_dir: str = "policies"
    opa_url: str = ""
    opa_timeout_s: float = 0.2
    # Decisions kept by the decision cache in front of the embedded engine (gateway.policy.cache):
    # a call whose input but for its time was decided before, inside the interval in which the
    # policy said that decision holds, is not evaluated again. 0 turns the cache off.
    decision_cache_entries: int = 4096
    # The longest a call waits for the store (and the database's own lock and statement
    # timeouts); past it the call gets UNAVAILABLE and nothing of it is kept.
    store_timeout_s: float = 5.0
    ledger_origin: str = "aidbridge.local/jiangbei/ledger"
    sequencer_interval_s: float = 0.2
    sweep_interval_s: float = 60.0
    deletion_deadline_days: int = 30
    referral_respond_days: int = 14
    # k-anonymity of a set of summaries released together (gateway.privacy.release): every
    # combination of quasi-identifiers a recipient sees is shared by at least this many people.
    release_k: int = 5
    insecure_plaintext: bool = False
    # Witnesses (gateway.ledger.witness_publishing): who cosigns checkpoints, how many must
    # have cosigned one before it is published (0: publish every checkpoint at once), how often
    # they are asked, and how long one may take to answer.
    witnesses: tuple[WitnessEndpoint, ...] = ()
    witness_quorum: int = 0
    witness_interval_s: float = 1.0
    witness_timeout_s: float = 2.0
    # Integrity detectors (gateway.integrity.detectors). volume-spike: an actor's releases and
    # referrals in the last ``volume_window_s`` (counted in buckets of ``volume_bucket_s``) are at
    # least ``volume_floor`` and more than ``volume_ratio`` times its mean per day over the last
    # ``volume_history_days`` days before today. duplicate-help: another charity's help of the
    # same kind for the same hardship delivered to the same person within this many days.
    volume_window_s: int = 3600
    volume_bucket_s: int = 300
    volume_history_days: int = 7
    volume_floor: int = 20
    volume_ratio: float = 0.5
    duplicate_help_days: int = 30

    # Paths derived from the working directory.
    @property
    def certs_dir(self) -> Path:
        return self.work_dir / "certs"

    @property
    def master_key_path(self) -> Path:
        return self.work_dir / "keys" / "master.key"

    @property
    def vkey_path(self) -> Path:
        return self.work_dir / "keys" / "checkpoint.vkey"

    @property
    def bundle_path(self) -> Path:
        path = Path(self.bundle_dir)
        return path if path.is_absolute() else self.work_dir / path

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{(self.work_dir / 'aidbridge.db').resolve()}"


_TYPES = {f.name: f.type for f in fields(Config)}


def load_config(work_dir: Path | str, **overrides: Any) -> Config:
    """Read ``work_dir/aidbridge.toml`` (optional), apply ``AIDBRIDGE_*`` environment variables,
    then keyword overrides whose value is not None."""
    work = Path(work_dir).resolve()
    values: dict[str, Any] = {}
    path = work / CONFIG_FILE
    if path.exists():
        try:
            values.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    for name in _TYPES:
        env = os.environ.get(f"AIDBRIDGE_{name.upper()}")
        if env is not None and name not in {"work_dir", "witnesses"}:
            values[name] = env
    values.update({k: v for k, v in overrides.items() if v is not None})
    unknown = set(values) - set(_TYPES) - {"work_dir"}
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s): {', '.join(sorted(unknown))}")
    values.pop("work_dir", None)
    config = replace(Config(work_dir=work), **{k: _coerce(k, v) for k, v in values.items()})
    if not config.store_timeout_s > 0:
        raise ConfigError(
            f"setting store_timeout_s: expected seconds > 0, found {config.store_timeout_s!r}"
        )
    if config.decision_cache_entries < 0:
        raise ConfigError(
            "setting decision_cache_entries: expected a number of decisions ≥ 0 (0: no cache), "
            f"found {config.decision_cache_entries}"
        )
    if not 0 <= config.witness_quorum <= len(config.witnesses):
        raise ConfigError(
            f"setting witness_quorum: expected 0 to {len(config.witnesses)} (the witnesses "
            f"configured), found {config.witness_quorum}"
        )
    _check_detectors(config)
    names = [w.name for w in config.witnesses]
    if len(set(names)) != len(names):
        raise ConfigError("setting witnesses: two witnesses share a name")
    return config


def _check_detectors(config: Config) -> None:
    for name in (
        "volume_window_s",
        "volume_bucket_s",
        "volume_history_days",
        "volume_floor",
        "duplicate_help_days",
    ):
        if getattr(config, name) < 1:
            raise ConfigError(f"setting {name}: expected 1 or more, found {getattr(config, name)}")
    if not config.volume_ratio > 0:
        raise ConfigError(f"setting volume_ratio: expected > 0, found {config.volume_ratio!r}")
    if config.volume_window_s % config.volume_bucket_s:
        raise ConfigError(
            f"setting volume_window_s: expected a multiple of volume_bucket_s "
            f"({config.volume_bucket_s}), found {config.volume_window_s}"
        )
    if config.volume_window_s > 86_400:
        raise ConfigError(
            f"setting volume_window_s: expected at most a day (86400), "
            f"found {config.volume_window_s}"
        )


def _witnesses(value: Any) -> tuple[WitnessEndpoint, ...]:
    if not isinstance(value, list | tuple):
        raise ConfigError("setting witnesses: expected [[witnesses]] tables")
    found = []
    for number, item in enumerate(value, start=1):
        if isinstance(item, WitnessEndpoint):
            found.append(item)
            continue
        if not isinstance(item, dict) or set(item) != {"name", "vkey", "url"}:
            raise ConfigError(
                f"setting witnesses[{number}]: expected exactly name, vkey and url, found "
                f"{sorted(item) if isinstance(item, dict) else type(item).__name__}"
            )
        if not all(isinstance(item[k], str) and item[k] for k in ("name", "vkey", "url")):
            raise ConfigError(f"setting witnesses[{number}]: name, vkey and url must be text")
        found.append(WitnessEndpoint(item["name"], item["vkey"], item["url"]))
    return tuple(found)


def write_config(config: Config) -> Path:
    """Write the settings that differ from the defaults to ``aidbridge.toml``."""
    default = Config(work_dir=config.work_dir)
    lines = ["# AidBridge gateway configuration (see gateway/config.py)"]
    for f in fields(Config):
        if f.name in {"work_dir", "witnesses"}:
            continue
        value = getattr(config, f.name)
        if value != getattr(default, f.name):
            lines.append(f"{f.name} = {_toml_value(value)}")
    for witness in config.witnesses:
        lines += ["", "[[witnesses]]"]
        lines += [f"{k} = {_toml_value(getattr(witness, k))}" for k in ("name", "vkey", "url")]
    path = config.work_dir / CONFIG_FILE
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _coerce(name: str, value: Any) -> Any:
    kind = _TYPES[name]
    if name == "witnesses":
        return _witnesses(value)
    try:
        if kind == "bool" and isinstance(value, str):
            if value.lower() not in {"1", "0", "true", "false", "yes", "no"}:
                raise ValueError(value)
            return value.lower() in {"1", "true", "yes"}
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "bool":
            return bool(value)
        return str(value)
    except ValueError as exc:
        raise ConfigError(f"setting {name}: expected {kind}, found {value!r}") from exc


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
