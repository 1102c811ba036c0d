"""The quickstart: the whole life of a model, on a machine with nothing set up.

``griffin quickstart`` runs :func:`run_quickstart` on the embedded defaults (SQLite metadata,
local artifacts, the SQLite online store, all under ``$GRIFFIN_HOME``) or, with
``GRIFFIN_URL`` set, against a server. In one project folder under
``$GRIFFIN_HOME/quickstart/<project>`` it writes bundled sample data and a ``features.py``,
then: apply the features, materialize them online, build point-in-time training data and save
it as datasets, train a logistic regression epoch by epoch in a tracked run, register it with
its lineage, evaluate it on a holdout set, promote it to ``@champion``, deploy it, serve it
in this process and ask it for predictions over HTTP by entity keys alone.

Every call works again: the data are rewritten (same values, timestamps moved to now), the
feature definitions stay unchanged, and each run adds a dataset version, a run and a model
version, moves ``champion`` to it and serves it through the same deployment.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from griffin.errors import NotSupported
from griffin.quickstart.journey import ALIAS, DEPLOYMENT, EXPERIMENT, MODEL
from griffin.quickstart.report import STEPS, Observer, Prediction, QuickstartResult, Step
from griffin.quickstart.trainer import EPOCHS

if TYPE_CHECKING:
    from griffin.config import Settings

__all__ = [
    "ALIAS",
    "DEPLOYMENT",
    "EPOCHS",
    "EXPERIMENT",
    "MODEL",
    "STEPS",
    "Observer",
    "Prediction",
    "QuickstartResult",
    "Step",
    "project_folder",
    "require_sklearn",
    "run_quickstart",
]


def require_sklearn() -> None:
    """Raise ``NotSupported`` with the install command unless scikit-learn is importable."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise NotSupported(
            "the quickstart needs scikit-learn, which is not installed: "
            "pip install 'griffin-ml[sklearn]'"
        ) from None


def project_folder(settings: Settings, project: str) -> Path:
    """Where the quickstart writes its sample project: never the working directory."""
    return settings.home / "quickstart" / project


def run_quickstart(
    settings: Settings | None = None,
    *,
    project: str | None = None,
    epochs: int = EPOCHS,
    observer: Observer | None = None,
    default_project: str | None = None,
) -> QuickstartResult:
    """Run every step of the journey (:data:`STEPS`) in ``project``.

    ``default_project`` is the project the printed commands reach without ``-p`` (default:
    ``settings.project``); they carry ``-p PROJECT`` when the quickstart ran in another.

    Raises:
        NotSupported: scikit-learn is not installed.
        GriffinError: the store or server refused a call (the step is the one the observer
            heard begin last).
    """
    require_sklearn()
    from griffin.client import Client
    from griffin.config import load_settings
    from griffin.quickstart.journey import run_journey

    settings = settings or load_settings()
    with Client(settings=settings, project=project) as client:
        folder = project_folder(settings, client.project)
        plain = default_project or settings.project
        command = "griffin" if client.project == plain else f"griffin -p {client.project}"
        return run_journey(
            client, settings, folder, epochs=epochs, observer=observer, command=command
        )
