"""Training: standard runtimes (named, pinned environments) and, later, models and jobs."""
