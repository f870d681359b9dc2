#!/usr/bin/env python3
"""`make bench`: the performance table quoted in the README's Performance section.

Synth is measured the way a cloud engineer runs it (the pinned CDK CLI running app.py, cdk-nag on),
for generated configs of 1, 10 and 25 teams with 2 models each, and for one team selected out of 100
(TEAMS=); each runs REPEAT times and the median wall time is reported, also as a multiple of the
toolchain's floor (a one-bucket app through the same CLI). Peak memory is the largest sum of resident memory over the whole
process tree (CLI, Python, jsii's Node runtime), sampled every 20 ms.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.generate_config import generate_config  # noqa: E402

TEAM_COUNTS = (1, 10, 25)
# a config this large, synthesized for one team only (make synth TEAMS=team-000)
SELECT_FROM = 100
MODELS_PER_TEAM = 2
REPEAT = 3
# CloudFormation quotas (CloudFormation user guide, "Quotas"): 500 resources per stack, a template body of 1 MB
# from S3 (the CDK CLI and the CodePipeline action deploy through S3)
CFN_MAX_RESOURCES = 500
CFN_MAX_TEMPLATE_BYTES = 1024 * 1024


@dataclass
class Run:
    seconds: float
    peak_rss_bytes: int
    returncode: int


def _tree_rss(root: int) -> int:
    """Resident memory of root and all its descendants: one pass over /proc per sample."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            rss[int(entry.name)] = int((entry / "statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, ()))
    return total * os.sysconf("SC_PAGE_SIZE")


def timed(command: list[str], *, sample_memory: bool = True, **kwargs) -> Run:
    """Wall time, and the process tree's peak memory sampled every 20 ms (a sampler costs CPU: the suite, which
    keeps both cores busy, is timed without it)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(process.pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    if sample_memory:
        sampler.start()
    _, stderr = process.communicate()
    elapsed = time.perf_counter() - start
    done.set()
    if sample_memory:
        sampler.join()
    if process.returncode != 0:
        sys.stderr.write(stderr.decode(errors="replace"))
    return Run(elapsed, peak, process.returncode)


def synth(config: Path, outdir: Path, teams: str | None = None) -> Run:
    env = {**os.environ, "CDK_DISABLE_CLI_TELEMETRY": "true"}
    return timed(["cdk", "--no-notices", "--no-version-reporting", "synth", "--quiet",
                  "--context", f"config={config}", *(["--context", f"teams={teams}"] if teams else []),
                  "--output", str(outdir)], env=env)


def synth_floor(outdir: Path) -> Run:
    """The toolchain's floor: the one-bucket app of scripts/bench_floor_app.py through the same CLI, under the same
    interpreter flags as cdk.json's app command (python -O)."""
    env = {**os.environ, "CDK_DISABLE_CLI_TELEMETRY": "true"}
    return timed(["cdk", "--no-notices", "--no-version-reporting", "synth", "--quiet",
                  "--app", f"{sys.executable} -O scripts/bench_floor_app.py", "--output", str(outdir)], env=env)


def largest_template(outdir: Path) -> tuple[str, int, int]:
    best = ("", 0, 0)
    for path in outdir.glob("assembly-*/*.template.json"):
        size = path.stat().st_size
        resources = len(json.loads(path.read_text())["Resources"])
        if (size, resources) > best[1:]:
            best = (path.name, size, resources)
    return best


def bench_synth(workdir: Path) -> tuple[list[list[str]], dict[str, float]]:
    """Every synth, the floor included, runs once per round, REPEAT rounds in a row: this machine's speed drifts
    by tens of percent within minutes, and a floor measured minutes before the 25-team synth would carry that
    drift into the multiple. Medians over the rounds."""
    configs = {}
    for teams in TEAM_COUNTS:
        configs[teams] = workdir / f"factory-{teams}.yaml"
        configs[teams].write_text(yaml.safe_dump(generate_config(teams, MODELS_PER_TEAM), sort_keys=False))
    big = workdir / f"factory-{SELECT_FROM}.yaml"
    big.write_text(yaml.safe_dump(generate_config(SELECT_FROM, MODELS_PER_TEAM), sort_keys=False))
    runs: dict[object, list[Run]] = {"floor": [], "select": [], **{teams: [] for teams in TEAM_COUNTS}}
    largest = ("", 0, 0)
    for attempt in range(REPEAT):
        runs["floor"].append(synth_floor(workdir / f"floor-{attempt}"))
        for teams in TEAM_COUNTS:
            outdir = workdir / f"out-{teams}-{attempt}"
            runs[teams].append(synth(configs[teams], outdir))
            if runs[teams][-1].returncode == 0:
                largest = max(largest, largest_template(outdir), key=lambda t: (t[1], t[2]))
        runs["select"].append(synth(big, workdir / f"select-{attempt}", teams="team-000"))
    labels = {"floor": "the floor app's synth", "select": f"the TEAMS= synth of {SELECT_FROM} teams",
              **{teams: f"synth of {teams} teams" for teams in TEAM_COUNTS}}
    for key, measured in runs.items():
        if any(r.returncode != 0 for r in measured):
            raise SystemExit(f"bench: {labels[key]} failed (exit {max(r.returncode for r in measured)})")
    medians = {key: statistics.median(r.seconds for r in measured) for key, measured in runs.items()}
    peaks = {key: max(r.peak_rss_bytes for r in measured) / 2**20 for key, measured in runs.items()}
    floor = medians.pop("floor")
    selected = medians.pop("select")
    rows = [["floor: a one-bucket CDK app through the same CLI",
             f"{floor:.2f} s (median of {REPEAT}), peak {peaks['floor']:.0f} MiB", ""]]
    for teams in TEAM_COUNTS:
        rows.append([f"synth {teams} team(s) x {MODELS_PER_TEAM} models",
                     f"{medians[teams]:.2f} s (median of {REPEAT}), peak {peaks[teams]:.0f} MiB", ""])
    first, last = TEAM_COUNTS[0], TEAM_COUNTS[-1]
    rows.append([f"synth {first} team as a multiple of the floor", f"{medians[first] / floor:.2f}x", "<= 2.5x"])
    rows.append([f"synth {last} teams as a multiple of the floor", f"{medians[last] / floor:.2f}x", "<= 6x"])
    rows.append(["synth time per additional team", f"{(medians[last] - medians[first]) / (last - first):.2f} s", ""])
    rows.append([f"make synth TEAMS=team-000 of a {SELECT_FROM}-team config, as a multiple of the floor",
                 f"{selected:.2f} s = {selected / floor:.2f}x", "<= 3x"])
    name, size, resources = largest
    rows.append(["largest template", f"{size / 1024:.1f} KiB ({100 * size / CFN_MAX_TEMPLATE_BYTES:.0f}% of 1 MB), "
                 f"{resources} resources ({100 * resources / CFN_MAX_RESOURCES:.0f}% of 500)", "<= 50%"])
    return rows, medians


def bench_train_local(workdir: Path) -> list[list[str]]:
    out = workdir / "local-run"
    run = timed([sys.executable, "pipelines/modelbuild/local_run.py", "--out", str(out)])
    if run.returncode != 0:
        raise SystemExit("bench: make train-local failed")
    auc = json.loads((out / "evaluation.json").read_text())["binary_classification_metrics"]["auc"]["value"]
    return [
        ["make train-local (preprocess, train, evaluate)", f"{run.seconds:.1f} s, peak {run.peak_rss_bytes / 2**20:.0f} MiB",
         "<= 60 s"],
        ["seed model AUC on the held-out test split", f"{auc:.3f}", ">= 0.90"],
    ]


def bench_scaling() -> list[list[str]]:
    from scripts.scaling_simulator import default_traffic, simulate, traffic_zone_of
    from stacks.config.manifest import load_manifest

    manifest = load_manifest(ROOT / "tests" / "fixtures" / "manifest-prod-gpu.json")
    zone = traffic_zone_of(manifest.endpoint)
    rows = []
    for label, scheduled, target in (("with the 07:30 pre-warm", True, "<= 2 min; <= 40 %"),
                                     ("reactive only", False, "reported, no target")):
        sim = simulate(manifest.endpoint, default_traffic(), traffic_zone=zone, scheduled=scheduled)
        rows.append([f"08:00 spike ({zone}), prod GPU manifest, {label}: shortfall, lost calls, GPU instance-hours "
                     "vs a static fleet at the same target",
                     f"{len(sim.shortfall_minutes())} min, {sim.lost_calls:,.0f} lost, {sim.instance_hours:.1f} h vs "
                     f"{sim.static_instance_hours:.0f} h ({100 * sim.instance_hours / sim.static_instance_hours:.0f} %)",
                     target])
    async_manifest = load_manifest(ROOT / "tests" / "fixtures" / "manifest-prod-async.json")
    sim = simulate(async_manifest.endpoint, default_traffic(), traffic_zone=traffic_zone_of(async_manifest.endpoint))
    rows.append(["the same spike, prod GPU manifest in mode async (min 0): lost calls, peak queue, longest wait, "
                 "GPU instance-hours vs a static fleet",
                 f"{sim.lost_calls:,.0f} lost, {max(sim.fleet.backlog):,.0f} queued, {max(sim.fleet.oldest_wait)} min, "
                 f"{sim.instance_hours:.1f} h vs {sim.static_instance_hours:.0f} h "
                 f"({100 * sim.instance_hours / sim.static_instance_hours:.0f} %)", "reported, no target"])
    return rows


HOOK_ENV = {"IDEMPOTENCY_TABLE_NAME": "bench-idempotency", "NOTIFICATION_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:t",
            "TEAM": "fraud", "MODEL_PACKAGE_GROUPS": '["mf-fraud-card-fraud"]', "POWERTOOLS_TRACE_DISABLED": "true",
            "AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
COLD_IMPORT = "import time; t = time.perf_counter(); import app; print(time.perf_counter() - t)"
# The floor under any function that calls AWS: a cold `import boto3` in a fresh interpreter.
BOTO3_IMPORT = "import time; t = time.perf_counter(); import boto3; print(time.perf_counter() - t)"


def bench_approval_hook() -> list[list[str]]:
    hook_dir = ROOT / "lambdas" / "approval_hook"
    env = {**os.environ, **HOOK_ENV, "PYTHONPATH": str(hook_dir)}
    cold, floor = [], []
    for _ in range(5):
        for code, samples in ((COLD_IMPORT, cold), (BOTO3_IMPORT, floor)):
            out = subprocess.run([sys.executable, "-c", code], cwd=hook_dir, env=env, capture_output=True,
                                 text=True, check=True)
            samples.append(float(out.stdout.strip().splitlines()[-1]) * 1000)
    warm = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_hook_warm.py")], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)
    hook, boto3_ms = statistics.median(cold), statistics.median(floor)
    return [
        ["approval hook: cold import of the handler module (Powertools Logger/Metrics/parser/idempotency, boto3; "
         "no X-Ray SDK)", f"{hook:.0f} ms (median of 5)", ""],
        ["  the same machine: cold `import boto3`", f"{boto3_ms:.0f} ms (median of 5)", ""],
        ["  hook cold import / import boto3", f"{hook / boto3_ms:.2f} x", "<= 1.8 x"],
        ["approval hook: warm invocation under moto (Approved event)", warm.stdout.strip().splitlines()[-1],
         "<= 50 ms"],
    ]


def bench_tests() -> list[list[str]]:
    # make test's command
    run = timed([sys.executable, "-m", "pytest", "-n", "2", "-q", "-p", "no:cacheprovider"], sample_memory=False)
    if run.returncode != 0:
        raise SystemExit("bench: make test failed")
    # written by the suite's fault-coverage plugin (tests/fault_coverage.py)
    faults = json.loads((ROOT / "build" / "fault-coverage.json").read_text())
    return [["make test (full suite)", f"{run.seconds:.1f} s on {os.cpu_count()} cores", "<= 120 s"],
            ["AWS call sites with a fault test (throttling, access denied, not found, server error)",
             f"{faults['covered']} of {faults['sites']}", "all"]]


def bench_nist(workdir: Path) -> list[list[str]]:
    """The example config through the CLI with `--context nist=1` (app.py prints the pack's count)."""
    env = {**os.environ, "CDK_DISABLE_CLI_TELEMETRY": "true"}
    # without --quiet: the CLI passes the app's stderr on
    out = subprocess.run(["cdk", "--no-notices", "--no-version-reporting", "synth", "--context", "nist=1",
                          "--output", str(workdir / "nist")], cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit("bench: the NIST synth failed")
    line = next(line for line in out.stderr.splitlines() if line.startswith("NIST 800-53 rev 5 findings"))
    return [["cdk-nag NIST 800-53 rev 5, example config", line.split(": ", 1)[1], "informational"]]


def print_table(rows: list[list[str]]) -> None:
    header = ["measure", "result", "target"]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(3)]
    line = "| " + " | ".join("{:<%d}" % w for w in widths) + " |"
    print(line.format(*header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line.format(*row))


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="mf-bench-") as tmp:
        rows, _ = bench_synth(Path(tmp))
        rows += bench_train_local(Path(tmp))
        rows += bench_nist(Path(tmp))
    rows += bench_scaling()
    rows += bench_approval_hook()
    rows += bench_tests()
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
