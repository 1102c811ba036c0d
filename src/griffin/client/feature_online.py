"""Online feature values for serving: read straight from the online store."""

from __future__ import annotations

from griffin.client.features import FeaturesMixin

__all__ = ["FeatureOnlineMixin"]


class FeatureOnlineMixin(FeaturesMixin):
    pass
