#!/usr/bin/env python3
"""Run preprocess -> train -> evaluate on this machine with the same scripts SageMaker runs.

    python local_run.py --out build/local-run        # writes build/local-run/evaluation.json
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CODE = HERE / "code"


def step(name: str, *args: str) -> None:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, str(CODE / f"{name}.py"), *args])
    if result.returncode != 0:
        raise SystemExit(f"local run: {name} failed (exit {result.returncode})")
    print(f"local run: {name} done in {time.perf_counter() - started:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/local-run"))
    parser.add_argument("--input", type=Path, default=HERE / "data" / "transactions.csv")
    parser.add_argument("--label", default="is_fraud")
    parser.add_argument("--problem-type", default="binary_classification")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    step("preprocess", "--input-dir", str(args.input), "--output-dir", str(out / "data"), "--label", args.label,
         "--problem-type", args.problem_type)
    step("train", "--train", str(out / "data" / "train"), "--validation", str(out / "data" / "validation"),
         "--model-dir", str(out / "model"), "--problem-type", args.problem_type)
    step("evaluate", "--model", str(out / "model"), "--test", str(out / "data" / "test"),
         "--output-dir", str(out), "--problem-type", args.problem_type)
    print(f"local run: report at {out / 'evaluation.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
