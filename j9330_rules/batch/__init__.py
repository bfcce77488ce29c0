"""Many claims at once: worker processes, pandas frames and Spark."""
