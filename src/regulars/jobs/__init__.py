"""Jobs: long-running work that chains the layers (demo build, predictions, backtests)."""
