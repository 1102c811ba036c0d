"""Training data from the client's project: point-in-time joins and saved datasets."""

from __future__ import annotations

from griffin.client.features import FeaturesMixin

__all__ = ["FeatureDataMixin"]


class FeatureDataMixin(FeaturesMixin):
    pass
