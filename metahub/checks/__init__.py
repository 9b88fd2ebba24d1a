"""MetaChecks: pure functions over fetched resource data (no AWS calls here)."""
