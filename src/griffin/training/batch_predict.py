"""Batch inference: a version's predictions for a batch of entity rows, chunk by chunk.

What a ``predict`` job runs (:func:`griffin.training.batch.run_predict`, started by
``griffin predict --output``), and what ``griffin predict`` without ``--output`` runs in its
own process to print the rows:

1. the entity rows, and the model's inputs for them: the rows' own columns, or the version's
   feature service joined on point-in-time (:mod:`griffin.training.batch_inputs`);
2. predictions, ``chunk_size`` rows at a time: in this process (:func:`local_scores`), or on a
   Ray cluster with Ray Data (:mod:`griffin.training.batch_ray`), in the rows' order either way;
3. each chunk appended to the output as soon as it is predicted
   (:mod:`griffin.training.batch_output`): the rows' own columns, the prediction column(s)
   (``prediction``, or one per output of a multi-output model) and ``model_version``.

The features are built in one pass (DuckDB spills a join larger than memory) and kept as Arrow;
only one chunk at a time becomes a pandas frame, predictions and output rows.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from griffin.errors import GriffinError, InvalidArgument
from griffin.training.batch_inputs import Inputs, model_inputs, read_entities
from griffin.training.batch_output import FileSink, Sink, TableSink, check_output, output_chunk

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from griffin.client import Client
    from griffin.registry.flavors import LoadedModel

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "BatchPrediction",
    "BatchRequest",
    "Progress",
    "Scorer",
    "local_scores",
    "parse_progress",
    "predict_failed",
    "predict_rows",
    "predict_to_file",
    "prediction_frame",
    "progress_printer",
    "score",
]

DEFAULT_CHUNK_SIZE = 10_000
_PROGRESS = re.compile(r"griffin: predicted (\d+) of (\d+) rows")

Progress = Callable[[int, int], None]


class Scorer(Protocol):
    """Predictions of ``model`` for ``inputs``, ``chunk_size`` rows at a time, in order."""

    def __call__(
        self, model: LoadedModel, inputs: pa.Table, chunk_size: int
    ) -> Iterator[pa.Table]: ...


@dataclass(frozen=True, slots=True)
class BatchRequest:
    """What to predict: a version, entity rows (a path or SQL) and where features come from."""

    ref: str
    entities: str
    as_of: datetime | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE
    online_features: bool | None = None

    def __post_init__(self) -> None:
        if self.chunk_size < 1:
            raise InvalidArgument(
                f"chunk_size must be 1 or more, got {self.chunk_size}",
                details={"field": "chunk_size"},
            )


@dataclass(frozen=True, slots=True)
class BatchPrediction:
    """What a batch prediction did: a predict job's result.

    Attributes:
        features: where the model's inputs came from: ``given`` (the rows carried them),
            ``point-in-time`` (as of each row's event timestamp), ``as-of`` (one given time),
            ``latest`` (as of the start of the run) or ``online`` (the online store).
        as_of: the time features were read as of, for ``as-of`` and ``latest``.
        rows_without_features: rows for which no feature view had a fresh value.
    """

    model: str
    version: int
    ref: str
    rows: int
    output: str | None
    features: str
    as_of: datetime | None
    rows_without_features: int = 0
    job_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "ref": self.ref,
            "rows": self.rows,
            "output": self.output,
            "features": self.features,
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "rows_without_features": self.rows_without_features,
            "job_id": self.job_id,
        }


def prediction_frame(result: Any) -> pd.DataFrame:
    """A model's ``predict`` result as columns: ``prediction`` (a list per row for a 2-D
    result), or the frame a multi-output model returned."""
    import numpy as np
    import pandas as pd

    if isinstance(result, pd.DataFrame):
        return result.reset_index(drop=True)
    values = np.asarray(result)
    return pd.DataFrame({"prediction": values.tolist() if values.ndim > 1 else values})


def score(model: LoadedModel, inputs: pa.Table) -> pa.Table:
    """The prediction column(s) of ``model`` for one chunk of inputs, as Arrow."""
    import pyarrow as pa

    frame = prediction_frame(model.predict(inputs.to_pandas()))
    return pa.Table.from_pandas(frame, preserve_index=False)


def local_scores(model: LoadedModel, inputs: pa.Table, chunk_size: int) -> Iterator[pa.Table]:
    """Predictions of ``inputs`` in this process, a chunk at a time."""
    for offset in range(0, inputs.num_rows, chunk_size):
        chunk = inputs.slice(offset, chunk_size)
        try:
            yield score(model, chunk)
        except Exception as exc:
            raise predict_failed(exc, offset, chunk.num_rows) from exc


def predict_failed(exc: BaseException, offset: int, rows: int) -> InvalidArgument:
    """The error for a model whose ``predict`` raised on rows ``offset`` to ``offset + rows``."""
    if isinstance(exc, GriffinError):  # the signature's check: its message says it all
        text = exc.headline
    else:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        text = f"{type(exc).__name__}: {first}".rstrip(": ")
    return InvalidArgument(
        f"the model's predict failed on rows {offset} to {offset + rows - 1}: {text}",
        details={"rows": [offset, offset + rows - 1]},
    )


# -- the run -------------------------------------------------------------------------------------


def _run(
    client: Client,
    request: BatchRequest,
    sink: Callable[[dict[str, Any]], Sink],
    *,
    scores: Scorer,
    progress: Progress | None,
    output: str | None,
    job_id: str | None,
) -> BatchPrediction:
    import pyarrow as pa

    version = client.resolve_model(request.ref)
    rows = read_entities(request.entities)
    model = client.load_version(version)
    inputs = model_inputs(
        client,
        version,
        rows,
        as_of=request.as_of,
        online_features=request.online_features,
        chunk_size=request.chunk_size,
    )
    result = BatchPrediction(
        model=version.name,
        version=version.version,
        ref=request.ref,
        rows=rows.num_rows,
        output=output,
        features=inputs.features,
        as_of=inputs.as_of,
        rows_without_features=inputs.rows_without_features,
        job_id=job_id,
    )
    target = sink(result.to_json())
    total, done = rows.num_rows, 0
    if progress is not None:
        progress(0, total)
    if total == 0:  # still a file with the columns, so a pipeline's next step can read it
        empty = pa.table({"prediction": pa.nulls(0)})
        target.write(output_chunk(rows, empty, version.version))
    try:
        for predictions in scores(model, inputs.table, request.chunk_size):
            count = predictions.num_rows
            target.write(output_chunk(rows.slice(done, count), predictions, version.version))
            done += count
            if progress is not None:
                progress(done, total)
    except InvalidArgument as exc:
        if "rows" not in exc.details or not inputs.rows_without_features:
            raise
        # The likeliest cause: features missing (NaN) where the model cannot take them.
        raise InvalidArgument(
            f"{exc.message} ({inputs.rows_without_features} rows had no fresh feature value "
            f"{_when(inputs)}: choose an --as-of within the features' time range)",
            details=exc.details,
        ) from exc
    if done != total:
        raise GriffinError(f"predicted {done} rows of {total}: the predictions came back short")
    return result


def _when(inputs: Inputs) -> str:
    if inputs.as_of is not None:
        return f"as of {inputs.as_of.isoformat()}"
    return "at their rows' event times" if inputs.features == "point-in-time" else "online"


def predict_to_file(
    client: Client,
    request: BatchRequest,
    output: Path,
    *,
    scores: Scorer = local_scores,
    progress: Progress | None = None,
    job_id: str | None = None,
) -> BatchPrediction:
    """Predict ``request``'s rows and write them with their predictions to ``output``
    (``.parquet``, ``.csv`` or ``.jsonl``), replacing it only once every row is written.

    Raises:
        InvalidArgument: a bad request (the message names the field), or the model's
            ``predict`` failed on a chunk.
    """
    check_output(output)
    opened: list[FileSink] = []

    def sink(metadata: dict[str, Any]) -> FileSink:
        opened.append(FileSink(output, metadata))
        return opened[0]

    try:
        result = _run(
            client,
            request,
            sink,
            scores=scores,
            progress=progress,
            output=str(output),
            job_id=job_id,
        )
    except BaseException:
        for target in opened:
            target.abort()
        raise
    opened[0].commit()
    return result


def predict_rows(
    client: Client,
    request: BatchRequest,
    *,
    progress: Progress | None = None,
) -> tuple[BatchPrediction, pa.Table]:
    """Predict ``request``'s rows here and return them with their predictions (a preview:
    nothing is written or recorded)."""
    import pyarrow as pa

    target = TableSink()
    result = _run(
        client,
        request,
        lambda _: target,
        scores=local_scores,
        progress=progress,
        output=None,
        job_id=None,
    )
    return result, pa.concat_tables(target.parts)


# -- progress in a job's log ---------------------------------------------------------------------


def progress_printer(every_s: float = 1.0) -> Progress:
    """Progress as log lines ``griffin: predicted N of M rows`` (what ``griffin predict``
    turns into a progress bar), at most one per ``every_s`` seconds, and the last one."""
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if done in (0, total) or now - last[0] >= every_s:
            last[0] = now
            print(f"griffin: predicted {done} of {total} rows", flush=True)

    return report


def parse_progress(line: str) -> tuple[int, int] | None:
    """``(done, total)`` from a line :func:`progress_printer` wrote, else None."""
    found = _PROGRESS.fullmatch(line.strip())
    return None if found is None else (int(found.group(1)), int(found.group(2)))
