"""The gateway's witnesses as configured in aidbridge.toml: parsed, checked, written back; a
quorum above the witnesses or a vkey that does not name its witness refuses to start."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.config import ConfigError, WitnessEndpoint, load_config, write_config
from gateway.ledger.cosignature import witness_vkey
from gateway.ledger.witness_publishing import WitnessConfigError, configured_witnesses

NAME = "supervision.test/witness"


def _toml(tmp_path: Path, text: str) -> Path:
    (tmp_path / "aidbridge.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_witnesses_and_quorum_are_read_and_written_back(tmp_path: Path) -> None:
    vkey = witness_vkey(NAME, Ed25519PrivateKey.generate().public_key())
    work = _toml(
        tmp_path,
        f'witness_quorum = 1\n[[witnesses]]\nname = "{NAME}"\nvkey = "{vkey}"\n'
        'url = "http://127.0.0.1:7380"\n',
    )
    config = load_config(work)
    assert config.witness_quorum == 1
    assert config.witnesses == (WitnessEndpoint(NAME, vkey, "http://127.0.0.1:7380"),)
    write_config(config)
    assert load_config(work) == config
    [witness] = configured_witnesses(config.witnesses)
    assert witness.key.name == NAME


def test_a_quorum_above_the_witnesses_configured_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="witness_quorum: expected 0 to 0"):
        load_config(_toml(tmp_path, "witness_quorum = 1\n"))


def test_a_witness_table_with_unknown_keys_is_refused(tmp_path: Path) -> None:
    work = _toml(tmp_path, '[[witnesses]]\nname = "a"\nvkey = "b"\nurl = "c"\nport = 1\n')
    with pytest.raises(ConfigError, match=r"witnesses\[1\]: expected exactly name, vkey and url"):
        load_config(work)


def test_a_vkey_naming_another_witness_or_a_bad_url_is_refused() -> None:
    vkey = witness_vkey("other.test/witness", Ed25519PrivateKey.generate().public_key())
    with pytest.raises(WitnessConfigError, match=r"its vkey names 'other\.test/witness'"):
        configured_witnesses([WitnessEndpoint(NAME, vkey, "http://127.0.0.1:1")])
    mine = witness_vkey(NAME, Ed25519PrivateKey.generate().public_key())
    with pytest.raises(WitnessConfigError, match="expected an http:// or https:// url"):
        configured_witnesses([WitnessEndpoint(NAME, mine, "file:///etc/passwd")])
    log_key = "aidbridge.test/ledger+00000000+AQ" + "A" * 42 + "="
    with pytest.raises(WitnessConfigError):
        configured_witnesses([WitnessEndpoint(NAME, log_key, "http://127.0.0.1:1")])
