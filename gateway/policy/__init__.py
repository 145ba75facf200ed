"""Policy: the Rego bundle in ``policies/`` decides every call (DESIGN.md "Policy (OPA)")."""

from gateway.policy.bundle import BundleError
from gateway.policy.engine import Decision, PolicyEngine, load_engine

__all__ = ["BundleError", "Decision", "PolicyEngine", "load_engine"]
