"""``griffin features check-skew``: online values against offline point-in-time values."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from griffin.cli.output import out_console, print_json, print_note, print_table
from griffin.cli.state import JsonOpt, ProjectOpt, open_client

_MEANING = {
    "match": "same event time and values",
    "value_mismatch": "same event time, different values (drift)",
    "online_stale": "offline has a newer row, or online has none (materialize)",
    "online_only": "online has a row offline history cannot produce",
    "absent": "no live value on either side",
}


def register(app: typer.Typer) -> None:
    """Add ``check-skew`` to ``griffin features``."""

    @app.command("check-skew")
    def check_skew_command(
        view: Annotated[str, typer.Argument(help="The feature view to check.")],
        sample: Annotated[
            int, typer.Option("--sample", "-n", min=1, help="How many entities to compare.")
        ] = 1000,
        seed: Annotated[int, typer.Option(help="Picks the sample (same seed, same entities).")] = 0,
        definitions: Annotated[
            Path | None,
            typer.Option(help="Local definitions to use in place of the registry's."),
        ] = None,
        project: ProjectOpt = None,
        json: JsonOpt = False,
    ) -> None:
        """Compare a view's online values with what training data would contain right now.

        Samples entities from the view's source, reads their online records and their
        offline point-in-time values as of now, and counts matches, value mismatches (drift),
        stale online values and rows only online has. Exits 1 unless everything matches.
        """
        with open_client(project) as client:
            report = client.check_skew(view, sample=sample, seed=seed, definitions=definitions)
        if json:
            print_json(report.to_json())
        else:
            print_table(
                ["bucket", "entities", "meaning"],
                [(b, n, _MEANING[b]) for b, n in report.counts.items()],
                title=f"{report.view}: {report.sampled} entities as of "
                f"{report.as_of:%Y-%m-%d %H:%M:%S} UTC",
            )
            if report.feature_mismatches:
                print_table(
                    ["feature", "mismatched entities"], list(report.feature_mismatches.items())
                )
            console = out_console()
            for example in report.examples:
                detail = (
                    f"{example.feature}: online {example.online!r} vs offline {example.offline!r}"
                    if example.feature
                    else f"online at {example.online_ts}, offline at {example.offline_ts}"
                )
                console.print(f"  {example.bucket} {example.entity}: {detail}", markup=False)
            print_note("no skew: online serves what training sees" if report.ok else "skew found")
        if not report.ok:
            raise typer.Exit(1)
