"""candles tables."""
