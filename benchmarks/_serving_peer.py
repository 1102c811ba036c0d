"""Run in a peer's venv: fit the benchmark model and save it the way that peer loads it.

``python _serving_peer.py mlflow DIR``: an MLflow model folder (``mlflow.sklearn``), served
with ``mlflow models serve``. ``python _serving_peer.py pickle FILE``: a pickled pipeline,
loaded by the BentoML service in ``_serving_bento.py``.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

from _serving_data import fit, table


def main(argv: list[str]) -> int:
    kind, target = argv[0], Path(argv[1])
    _, x = table()
    model = fit(x, frame=False)
    if kind == "mlflow":
        import mlflow.sklearn  # type: ignore[import-not-found, unused-ignore]

        mlflow.sklearn.save_model(model, str(target))
    elif kind == "pickle":
        target.write_bytes(pickle.dumps(model))
    else:
        print(f"unknown kind {kind!r}: use mlflow or pickle", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
