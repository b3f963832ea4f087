"""Building blocks shared by the model families (no family-specific logic)."""
