"""AidBridge gateway: the gRPC service between government assistance systems and charities.

Each call flows one way: identity → policy → privacy → store → ledger. The folders follow that
path: ``identity``, ``policy/``, ``privacy/``, ``consent/``, ``store/``, ``ledger/``, with
``services/`` translating between protobuf messages and these domain modules.
"""

__version__ = "0.1.0"
