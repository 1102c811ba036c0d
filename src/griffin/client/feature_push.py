"""Getting feature values online: materialization and push."""

from __future__ import annotations

from griffin.client.features import FeaturesMixin

__all__ = ["FeaturePushMixin"]


class FeaturePushMixin(FeaturesMixin):
    pass
