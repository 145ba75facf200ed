"""The gRPC services: they translate protobuf messages to domain calls and back, and every call
goes through ``gateway.exchange.run_exchange`` (identity → policy → privacy → store → ledger)."""
