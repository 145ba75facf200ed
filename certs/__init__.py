"""Development PKI tooling: a CA and the client and server certificates it issues (see
``certs/README.md`` for the identity convention and commands)."""

from certs.ca import (
    CAExistsError,
    CANotFoundError,
    CertificateRequestError,
    IssuedCert,
    init_ca,
    issue_client,
    issue_server,
)

__all__ = [
    "CAExistsError",
    "CANotFoundError",
    "CertificateRequestError",
    "IssuedCert",
    "init_ca",
    "issue_client",
    "issue_server",
]
