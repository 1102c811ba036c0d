"""Model Registry: model versions, aliases, lineage, and the flavors that save and load models."""
