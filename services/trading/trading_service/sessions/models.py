"""Trading session tables."""
