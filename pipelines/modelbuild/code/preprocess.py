#!/usr/bin/env python3
"""Preprocess: validate the raw data, split it into train/validation/test, write the baseline.

Runs in the SageMaker scikit-learn processing container (paths under /opt/ml/processing) and locally
(`--input-dir/--output-dir`). The split is deterministic for a given seed. Outputs (CSV, header row,
label first): train/part-NNNN.csv (one shard per training instance), validation/validation.csv,
test/test.csv, and baseline/baseline.csv (the features only, no label: what live requests look like,
for the data-quality baseline).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

CONTAINER_INPUT = "/opt/ml/processing/input"
CONTAINER_OUTPUT = "/opt/ml/processing"


class InputError(Exception):
    pass


def read_input(input_dir: Path, label: str) -> pd.DataFrame:
    if input_dir.is_file():
        files = [input_dir]
    else:
        files = sorted(p for p in input_dir.glob("**/*.csv") if p.is_file()) if input_dir.exists() else []
    if not files:
        raise InputError(f"no input CSV file found in {input_dir}")
    frame = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    if label not in frame.columns:
        raise InputError(f"label column '{label}' is not in {files[0]} (columns: {', '.join(frame.columns)})")
    if frame.empty:
        raise InputError(f"input {files[0]} has no rows")
    features = [c for c in frame.columns if c != label]
    non_numeric = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        raise InputError(f"feature columns must be numeric; these are not: {', '.join(non_numeric)}")
    return frame[[label, *features]]


def split(frame: pd.DataFrame, label: str, seed: int, stratify: bool) -> tuple[pd.DataFrame, ...]:
    target = frame[label] if stratify else None
    train, rest = train_test_split(frame, test_size=0.3, random_state=seed, stratify=target)
    validation, test = train_test_split(rest, test_size=0.5, random_state=seed,
                                        stratify=rest[label] if stratify else None)
    return train, validation, test


def write_outputs(output_dir: Path, label: str, train, validation, test, train_shards: int) -> None:
    for name in ("train", "validation", "test", "baseline"):
        (output_dir / name).mkdir(parents=True, exist_ok=True)
    for index, shard in enumerate(np.array_split(np.arange(len(train)), train_shards)):
        train.iloc[shard].to_csv(output_dir / "train" / f"part-{index:04d}.csv", index=False)
    validation.to_csv(output_dir / "validation" / "validation.csv", index=False)
    test.to_csv(output_dir / "test" / "test.csv", index=False)
    train.drop(columns=[label]).to_csv(output_dir / "baseline" / "baseline.csv", index=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="split raw data for training")
    parser.add_argument("--input-dir", type=Path, default=Path(CONTAINER_INPUT))
    parser.add_argument("--output-dir", type=Path, default=Path(CONTAINER_OUTPUT))
    parser.add_argument("--label", default="is_fraud")
    parser.add_argument("--problem-type", default="binary_classification")
    parser.add_argument("--train-shards", type=int, default=1)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    try:
        frame = read_input(args.input_dir, args.label)
    except InputError as error:
        print(f"preprocess: {error}", file=sys.stderr)
        return 1
    train, validation, test = split(frame, args.label, args.seed,
                                    stratify=args.problem_type != "regression")
    write_outputs(args.output_dir, args.label, train, validation, test, max(args.train_shards, 1))
    print(f"preprocess: {len(train)} train / {len(validation)} validation / {len(test)} test rows, "
          f"{args.train_shards} train shard(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
