"""The serving platform: deployments, the inference server and batch inference."""
