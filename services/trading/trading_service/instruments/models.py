"""instruments tables."""
