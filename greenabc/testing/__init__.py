"""The conformance kit: ``pytest --greenabc-backend NAME`` (placeholder)."""
