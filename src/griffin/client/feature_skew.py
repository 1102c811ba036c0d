"""Online/offline skew checks: served values against point-in-time training values."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from griffin.client.features import FeaturesMixin

if TYPE_CHECKING:
    from griffin.features.project import Definitions
    from griffin.features.skew import SkewReport

__all__ = ["FeatureSkewMixin"]


class FeatureSkewMixin(FeaturesMixin):
    def check_skew(
        self,
        view: str,
        *,
        sample: int = 1000,
        seed: int = 0,
        definitions: Definitions | str | Path | None = None,
    ) -> SkewReport:
        """Compare a view's online values with its offline point-in-time values as of now.

        Runs here: the view's source is read from this machine and the online store is the
        one in this client's settings (``GRIFFIN_ONLINE_STORE``).

        Args:
            view: the feature view's name.
            sample: how many of its entities to compare (drawn from its source).
            seed: picks the sample; the same seed compares the same entities.
            definitions: your local definitions, used in place of the registry's.

        Returns:
            A :class:`~griffin.features.skew.SkewReport`: entities per bucket (match,
            value_mismatch, online_stale, online_only, absent), mismatches per feature and
            examples. ``report.ok`` is true when online serves exactly what training sees.

        Raises:
            InvalidArgument: an unknown view (with the closest names).
            BackendUnavailable: the online store cannot be reached.
        """
        from griffin.features.online import open_online_store
        from griffin.features.skew import check_skew

        found = self.feature_definitions(definitions)
        with open_online_store(self.settings.resolved_online_store) as store:
            return check_skew(
                found,
                view,
                store,
                project=self.project,
                offline_root=self.settings.resolved_offline_root,
                sample=sample,
                seed=seed,
            )
