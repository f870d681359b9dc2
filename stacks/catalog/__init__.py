"""The factory-wide model catalog (one per factory)."""
