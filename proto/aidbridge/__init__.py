"""Generated Python code for the AidBridge API (package ``aidbridge.v1``)."""
