"""Experiment tracking: experiments, runs, params, metrics, tags and artifacts."""
