"""Platform overhead of a local training job: ``griffin train --json`` on a tiny model.

Each run is the real command in a subprocess (its own process group, killed on ``--timeout``)
in a scratch project folder whose ``model.py`` fits a scikit-learn model on 200 rows. The
figures come from the timestamps Griffin records (job created/ended, status events, the
version's creation) and a few the model itself writes (its process's start from ``/proc``,
when ``train()`` was entered and returned, the fit's duration), all on the same clock.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from _common import BenchError, say
from _servers import Proc, griffin_env

MODEL_NAME = "bench_tiny"
TIMINGS_ENV = "BENCH_TIMINGS_DIR"

MODEL_PY = '''"""A tiny model for benchmarks/registry.py: the fit takes milliseconds."""

import json
import os
import time

import griffin


def _process_start():
    """This process's start as Unix time, from /proc (0.0 where there is no /proc)."""
    try:
        with open("/proc/self/stat", "rb") as stat, open("/proc/uptime") as up:
            raw, uptime = stat.read(), float(up.read().split()[0])
    except OSError:
        return 0.0
    ticks = int(raw[raw.rfind(b")") + 2 :].split()[19])
    return time.time() - (uptime - ticks / os.sysconf("SC_CLK_TCK"))


@griffin.model(name="{name}", params={{"c": 1.0}}, task="classification")
def train(ctx):
    entered = time.time()
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    y = (x[:, 0] > 0).astype(int)
    t0 = time.perf_counter()
    model = LogisticRegression(C=float(ctx.params["c"])).fit(x, y)
    fit = time.perf_counter() - t0
    ctx.log_metric("fit_seconds", fit)
    out = os.environ.get("{env}")
    if out:
        timings = {{
            "process_start": _process_start(),
            "entered": entered,
            "fit_s": fit,
            "returned": time.time(),
        }}
        with open(os.path.join(out, ctx.job_id + ".json"), "w") as file:
            json.dump(timings, file)
    return model
'''

# The breakdown, in order: (key, label); consecutive keys tile created -> ended.
STAGES = (
    ("queued_to_claimed", "queued -> claimed by the dispatcher"),
    ("claimed_to_process", "claimed -> job process started (launch, sh, exec; 0 if prestarted)"),
    ("process_to_train", "process start -> train() entered (imports, client, code, run)"),
    ("train_s", "train() itself (imports sklearn, data, fit)"),
    ("train_to_registered", "train() returned -> version registered (save, upload, register)"),
    ("registered_to_exit", "registered -> process exited (end run, report, exit)"),
    ("exit_to_ended", "process exited -> SUCCEEDED recorded (dispatcher poll)"),
)


def write_project(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.py").write_text(MODEL_PY.format(name=MODEL_NAME, env=TIMINGS_ENV))
    return folder


def _unix(value: str | datetime) -> float:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.timestamp()


def _boot_time() -> float:
    with open("/proc/uptime") as up:
        return time.time() - float(up.read().split()[0])


def _parse_json(text: str) -> dict[str, Any]:
    """The JSON object ``--json`` printed (stderr shares the log: skip any line before it)."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.rstrip() == "{":
            found: dict[str, Any] = json.JSONDecoder().raw_decode("".join(lines[i:]))[0]
            return found
    raise BenchError("griffin train --json printed no JSON object:\n" + text[-1500:])


class TrainSeries:
    """Runs of ``griffin train --json`` in one project against one store (embedded or server)."""

    def __init__(
        self,
        name: str,
        project: Path,
        home: Path,
        env: dict[str, str],
        client_factory: Any,
        timings_dir: Path,
        timeout_s: float,
    ) -> None:
        self.name = name
        self.project = project
        self.home = home
        self.env = env
        self.client_factory = client_factory
        self.timings_dir = timings_dir
        self.timeout_s = timeout_s
        self.runs: list[dict[str, float]] = []
        self.notes: list[str] = []
        self.jobs_roots: set[Path] = set()

    def run_once(self, index: int) -> dict[str, float]:
        griffin = Path(sys.executable).parent / "griffin"
        argv = [str(griffin), "train", "--json"]
        log = self.home / "logs" / f"{self.name.replace('/', '-')}-{index}.log"
        launched = time.time()
        t0 = time.perf_counter()
        proc = Proc(f"griffin train ({self.name})", argv, env=self.env, cwd=self.project, log=log)
        try:
            code = proc.wait(self.timeout_s)
        finally:
            proc.stop()
        wall = time.perf_counter() - t0
        exited = time.time()
        text = log.read_text(errors="replace")
        if code != 0:
            raise BenchError(f"griffin train exited with {code}:\n{text[-1500:]}")
        job = _parse_json(text)
        if job.get("status") != "SUCCEEDED":
            raise BenchError(f"job {job.get('id')} ended {job.get('status')}: {job}")
        return self._figures(job, launched, exited, wall)

    def _figures(
        self, job: dict[str, Any], launched: float, exited: float, wall: float
    ) -> dict[str, float]:
        handle = job.get("handle") or {}
        if handle.get("log_path"):
            self.jobs_roots.add(Path(handle["log_path"]).parent.parent)
        result = job.get("result") or {}
        with self.client_factory() as client:
            events = client.job_events(job["id"])
            version = client.get_model_version(MODEL_NAME, int(result["version"]))
        at = {str(e.to_status): e.at.timestamp() for e in events}
        created, ended = _unix(job["created_at"]), _unix(job["ended_at"])
        registered = version.created_at.timestamp()
        timings_file = self.timings_dir / f"{job['id']}.json"
        own: dict[str, float] = (
            json.loads(timings_file.read_text()) if timings_file.exists() else {}
        )
        fit = float(own.get("fit_s", version.metrics.get("fit_seconds", float("nan"))))
        figures: dict[str, float] = {
            "wall_s": wall,
            "launch_to_submitted": created - launched,
            "created_to_ended": ended - created,
            "created_to_registered": registered - created,
            "command_to_registered": registered - launched,
            "fit_s": fit,
            "overhead_s": ended - created - fit,
            "ended_to_command_exit": exited - ended,
        }
        if "fit_seconds" not in version.metrics:
            self.notes.append(
                f"{self.name}: version {version.version} does not carry the fit_seconds metric "
                "train() logged (the runner records the last value of each metric)"
            )
        claimed = at.get("STARTING")
        exit_path = Path(str(handle.get("exit_path", "")))
        exit_at = exit_path.stat().st_mtime if exit_path.is_file() else None
        start = own.get("process_start") or None
        if start is not None and claimed is not None and start < claimed:
            # A prestarted interpreter (setting job_prestart) began before the job existed:
            # its part of the job starts at the claim, when it was handed the job.
            figures["prestarted"] = 1.0
            start = claimed
        if claimed is not None:
            figures["queued_to_claimed"] = claimed - created
        if claimed is not None and start is not None:
            figures["claimed_to_process"] = start - claimed
        if start is not None and "entered" in own:
            figures["process_to_train"] = own["entered"] - start
        if "entered" in own and "returned" in own:
            figures["train_s"] = own["returned"] - own["entered"]
            figures["platform_s"] = ended - created - figures["train_s"]
            figures["train_to_registered"] = registered - own["returned"]
            figures["command_to_registered_less_train"] = registered - launched - figures["train_s"]
        if exit_at is not None:
            figures["registered_to_exit"] = exit_at - registered
            figures["exit_to_ended"] = ended - exit_at
        if handle.get("start_time") and claimed is not None:
            wrapper = _boot_time() + int(handle["start_time"]) / os.sysconf("SC_CLK_TCK")
            figures["claimed_to_wrapper"] = wrapper - claimed
        if "RUNNING" in at:
            figures["created_to_running"] = at["RUNNING"] - created
        return figures

    def measure(self, runs: int, *, warmup: bool = True) -> dict[str, Any]:
        """One warm-up run (reported apart), then ``runs`` timed ones; medians and all runs."""
        out: dict[str, Any] = {}
        if warmup:
            say(f"  {self.name}: warm-up run")
            out["first"] = self.run_once(0)
        for i in range(1, runs + 1):
            say(f"  {self.name}: run {i}/{runs}")
            self.runs.append(self.run_once(i))
        if self.runs:
            keys = sorted({k for run in self.runs for k in run})
            out["median"] = {
                k: statistics.median([r[k] for r in self.runs if k in r]) for k in keys
            }
            out["runs"] = self.runs
        return out

    def reap(self) -> None:
        """Kill any job process still running (a run stopped by --timeout leaves its job)."""
        for root in self.jobs_roots:
            reap_jobs(root)


def reap_jobs(jobs_root: Path) -> None:
    """SIGKILL the process group of every job attempt under ``jobs_root`` still running."""
    for handle_file in jobs_root.glob("*/attempt-*.json"):
        if handle_file.with_suffix(".exit").exists():
            continue
        try:
            handle = json.loads(handle_file.read_text())
            pid, pgid = int(handle["pid"]), int(handle["pgid"])
            raw = Path(f"/proc/{pid}/stat").read_bytes()
        except (OSError, ValueError, KeyError):
            continue
        fields = raw[raw.rfind(b")") + 2 :].split()
        if len(fields) > 19 and int(fields[19]) == handle.get("start_time"):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)


# --------------------------------------------------------------------------- process start-up


def startup_costs(home: Path, reps: int, timeout_s: float) -> dict[str, float]:
    """Median wall time of a few fresh interpreters: what every job process pays first."""
    python = sys.executable
    env = griffin_env(home, "")
    commands = {
        "python -c pass": [python, "-c", "pass"],
        "import griffin.training.runner": [python, "-c", "import griffin.training.runner"],
        "import griffin.cli.main (the CLI)": [python, "-c", "import griffin.cli.main"],
        "open an embedded griffin.Client()": [
            python,
            "-c",
            "import griffin.training.runner, griffin; griffin.Client().close()",
        ],
        "import sklearn.linear_model": [python, "-c", "import sklearn.linear_model"],
    }
    out: dict[str, float] = {}
    for label, argv in commands.items():
        samples: list[float] = []
        for i in range(max(1, reps)):
            t0 = time.perf_counter()
            proc = Proc(label, argv, env=env, cwd=home, log=home / "logs" / f"startup-{i}.log")
            try:
                code = proc.wait(timeout_s)
            finally:
                proc.stop()
            if code != 0:
                raise BenchError(f"{label} failed ({code}):\n{proc.tail()}")
            samples.append(time.perf_counter() - t0)
        out[label] = statistics.median(samples)
    return out
