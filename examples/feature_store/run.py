"""The life of a feature, end to end, on a laptop: define, train on history, serve, check.

    python examples/feature_store/run.py        # from the repository, after `make quickstart`

It writes a small, deterministic history of driver statistics (the last 7 days, hourly) to
data/, then with the embedded store (or the server in GRIFFIN_URL):

1. applies features.py to the registry;
2. builds point-in-time-correct training data for the `eta_model` service and saves it as a
   versioned dataset with statistics;
3. materializes the latest values to the online store and pushes a live value;
4. reads online features for two drivers, running the on-demand view on request data;
5. checks that online values match what training would see (no skew).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

import griffin

HERE = Path(__file__).resolve().parent
DRIVERS = 50


def write_history(now: datetime) -> Path:
    """Hourly stats for each driver over the last 7 days (seeded, so runs are comparable)."""
    rng = np.random.default_rng(7)
    hours = pd.date_range(
        end=now.replace(minute=0, second=0, microsecond=0), periods=7 * 24, freq="h", tz="UTC"
    )
    ids = np.repeat(np.arange(1001, 1001 + DRIVERS), len(hours))
    stamps = np.tile(hours.to_numpy(), DRIVERS)
    frame = pd.DataFrame(
        {
            "driver_id": ids,
            "event_timestamp": stamps,
            "conv_rate": rng.uniform(0.2, 0.95, len(ids)).round(4),
            "acc_rate": rng.uniform(0.5, 1.0, len(ids)).round(4),
            "avg_daily_trips": rng.integers(5, 40, len(ids)),
        }
    )
    frame["created"] = frame["event_timestamp"] + pd.Timedelta(minutes=5)
    path = HERE / "data" / "driver_stats.parquet"
    path.parent.mkdir(exist_ok=True)
    frame.to_parquet(path, index=False)
    return path


def main() -> None:
    os.chdir(HERE)  # the source paths in features.py are relative to this folder
    now = datetime.now(UTC)
    write_history(now)
    with griffin.Client() as client:
        print(f"== Griffin at {client.where}, project {client.project!r}")

        plan = client.apply_features("features.py")
        print(f"\n== 1. registry: {plan.summary()}")

        rng = np.random.default_rng(1)
        entity_rows = pd.DataFrame(
            {
                "driver_id": rng.integers(1001, 1001 + DRIVERS + 5, 2000),  # 5 unknown drivers
                "event_timestamp": [
                    now - timedelta(hours=float(h)) for h in rng.uniform(1, 160, 2000)
                ],
                "distance_km": rng.uniform(0.5, 25, 2000).round(1),
                "on_time": rng.integers(0, 2, 2000),  # the label, kept as-is
            }
        )
        training = client.get_training_data(entity_rows, "eta_model", definitions="features.py")
        table = training.to_pandas()
        missing = table["conv_rate"].isna().mean()
        print(
            f"\n== 2. training data: {training.num_rows} rows x {len(training.columns)} columns, "
            f"{missing:.1%} without a fresh driver_stats row (unknown drivers)"
        )
        print(table.head(3).to_string(index=False))
        dataset = client.save_dataset("eta_training", training, description="example run")
        print(
            f"   saved dataset {dataset.name!r} version {dataset.version}, {dataset.row_count} rows"
        )

        results = client.materialize(["driver_stats"], definitions="features.py")
        print(f"\n== 3. materialized {results[0].rows} drivers to the online store")
        pushed = client.push(
            "driver_live",
            [{"driver_id": 1001, "event_timestamp": now, "speed_kmh": 42.5}],
        )
        print(f"   pushed {pushed.rows} live row(s), {pushed.written} written online")

        online = client.get_online_features(
            "eta_model",
            {"driver_id": [1001, 1002]},
            request_data={"distance_km": [3.2, 12.0]},
            definitions="features.py",
        ).to_dict()
        live = client.get_online_features(["driver_live:speed_kmh"], {"driver_id": [1001]})
        print(f"\n== 4. online features: {online}")
        print(f"   live speed of driver 1001: {live.to_dict()['speed_kmh'][0]} km/h")

        report = client.check_skew("driver_stats", sample=DRIVERS)
        print(f"\n== 5. skew check over {report.sampled} drivers: {dict(report.counts)}")
        print("   no skew: online serves what training sees" if report.ok else "   SKEW FOUND")


if __name__ == "__main__":
    main()
