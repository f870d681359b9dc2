#!/usr/bin/env python3
"""Train: XGBoost on the preprocessed CSVs (label first, header row).

Runs in the SageMaker XGBoost framework container (script mode: channels and model dir from the SM_*
environment, hyperparameters as --flags) and locally (`--train/--validation/--model-dir`). Uses the GPU
when the host has one (decided here, at run time, from SM_NUM_GPUS), resumes from /opt/ml/checkpoints after
a spot interruption, and trains distributed over rabit when the job has several instances (each reads its
own shard of the train channel, distributed by S3 key).

The model directory holds exactly one file, `xgboost-model`: the registered model is served by the XGBoost
container in algorithm mode, which loads every non-hidden regular file of /opt/ml/model as a booster
(aws/sagemaker-xgboost-container, algorithm_mode/serve_utils.py `_get_full_model_paths`). The training
metadata goes to the job's output data instead (SM_OUTPUT_DATA_DIR, uploaded as output.tar.gz).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

import pandas as pd
import xgboost as xgb

# "xgboost-model" is the file name SageMaker's XGBoost serving looks for; xgboost would like an extension.
warnings.filterwarnings("ignore", message=".*Saving model in the UBJSON format.*")

MODEL_FILE = "xgboost-model"
OBJECTIVES = {
    "binary_classification": ("binary:logistic", "auc"),
    "multiclass_classification": ("multi:softprob", "mlogloss"),
    "regression": ("reg:squarederror", "rmse"),
}


def load_matrix(channel: Path) -> xgb.DMatrix | None:
    files = sorted(channel.glob("*.csv")) if channel.exists() else []
    if not files:
        return None
    frame = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    return xgb.DMatrix(frame.iloc[:, 1:], label=frame.iloc[:, 0], feature_names=list(frame.columns[1:]))


def latest_checkpoint(checkpoint_dir: Path | None) -> tuple[Path | None, int]:
    if checkpoint_dir is None or not checkpoint_dir.exists():
        return None, 0
    checkpoints = sorted(checkpoint_dir.glob("checkpoint-*.json"), key=lambda p: int(p.stem.split("-")[1]))
    if not checkpoints:
        return None, 0
    return checkpoints[-1], int(checkpoints[-1].stem.split("-")[1])


class SaveCheckpoints(xgb.callback.TrainingCallback):
    """Keep the newest booster in the checkpoint dir so a spot restart loses at most `every` rounds."""

    def __init__(self, directory: Path, every: int, offset: int) -> None:
        self.directory, self.every, self.offset = directory, every, offset

    def after_iteration(self, model, epoch, evals_log) -> bool:
        round_done = self.offset + epoch + 1
        if round_done % self.every == 0:
            self.directory.mkdir(parents=True, exist_ok=True)
            model.save_model(self.directory / f"checkpoint-{round_done}.json")
            for old in self.directory.glob("checkpoint-*.json"):
                if int(old.stem.split("-")[1]) < round_done:
                    old.unlink()
        return False


class TrainingError(Exception):
    pass


def class_count(labels, given: int | None) -> int:
    """num_class for multi:softprob: as given, else inferred from the labels, which must be 0..K-1."""
    values = sorted({float(v) for v in labels})
    if any(v != int(v) or v < 0 for v in values):
        raise TrainingError(f"multiclass labels must be integers 0..K-1 (found {values[:5]})")
    inferred = int(values[-1]) + 1
    if given is not None and given < inferred:
        raise TrainingError(f"--num_class {given} is less than the largest label + 1 ({inferred})")
    if (given or inferred) < 2:
        raise TrainingError("multiclass training needs at least two classes")
    return given or inferred


def train(args: argparse.Namespace, is_master: bool = True) -> None:
    dtrain = load_matrix(args.train)
    dvalidation = load_matrix(args.validation)
    objective, metric = OBJECTIVES[args.problem_type]
    params = {
        "objective": objective,
        "eval_metric": metric,
        "max_depth": args.max_depth,
        "eta": args.eta,
        "subsample": args.subsample,
        "min_child_weight": args.min_child_weight,
        "tree_method": "hist",
        "device": args.device if args.device != "auto" else ("cuda" if args.num_gpus > 0 else "cpu"),
        "seed": args.seed,
    }
    if args.problem_type == "multiclass_classification":
        params["num_class"] = class_count(dtrain.get_label(), args.num_class)
    resume_from, rounds_done = latest_checkpoint(args.checkpoint_dir)
    callbacks = [SaveCheckpoints(args.checkpoint_dir, every=10, offset=rounds_done)] if args.checkpoint_dir else []
    evals = [(dtrain, "train")] + ([(dvalidation, "validation")] if dvalidation is not None else [])
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=max(args.num_round - rounds_done, 0),
        evals=evals,
        early_stopping_rounds=args.early_stopping_rounds if dvalidation is not None else None,
        xgb_model=str(resume_from) if resume_from else None,
        callbacks=callbacks,
        verbose_eval=25,
    )
    if is_master:
        args.model_dir.mkdir(parents=True, exist_ok=True)
        booster.save_model(args.model_dir / MODEL_FILE)
        args.output_data_dir.mkdir(parents=True, exist_ok=True)
        (args.output_data_dir / "training-metadata.json").write_text(json.dumps({
            "feature_names": dtrain.feature_names, "objective": objective, "best_iteration": booster.best_iteration,
            "params": params, "num_round": args.num_round,
        }, indent=2))
        print(f"train: model written to {args.model_dir / MODEL_FILE} ({params['device']})")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(description="train the XGBoost model")
    parser.add_argument("--train", type=Path, default=Path(env.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")))
    parser.add_argument("--validation", type=Path,
                        default=Path(env.get("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation")))
    parser.add_argument("--model-dir", type=Path, default=Path(env.get("SM_MODEL_DIR", "/opt/ml/model")))
    parser.add_argument("--output-data-dir", type=Path,
                        default=Path(env["SM_OUTPUT_DATA_DIR"]) if "SM_OUTPUT_DATA_DIR" in env else None,
                        help="training metadata (default: output-data/ next to the model dir)")
    parser.add_argument("--checkpoint-dir", type=Path,
                        default=Path("/opt/ml/checkpoints") if "SM_MODEL_DIR" in env else None)
    parser.add_argument("--num-gpus", type=int, default=int(env.get("SM_NUM_GPUS", "0")))
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--problem_type", "--problem-type", dest="problem_type", default="binary_classification",
                        choices=sorted(OBJECTIVES))
    parser.add_argument("--num_class", type=int, default=None, help="default: inferred from the labels")
    parser.add_argument("--num_round", type=int, default=300)
    parser.add_argument("--early_stopping_rounds", type=int, default=20)
    parser.add_argument("--max_depth", type=int, default=4)
    parser.add_argument("--eta", type=float, default=0.1)
    parser.add_argument("--subsample", type=float, default=0.9)
    parser.add_argument("--min_child_weight", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.output_data_dir is None:
        args.output_data_dir = args.model_dir.parent / "output-data"
    if load_matrix(args.train) is None:
        print(f"train: no training CSV found in {args.train}", file=sys.stderr)
        return 1
    hosts = json.loads(os.environ.get("SM_HOSTS", "[]"))
    if len(hosts) > 1:
        # Only inside the SageMaker XGBoost container: it ships the rabit helpers.
        from sagemaker_xgboost_container import distributed

        distributed.rabit_run(
            exec_fun=train,
            args={"args": args},
            include_in_training=load_matrix(args.train) is not None,
            hosts=hosts,
            current_host=os.environ["SM_CURRENT_HOST"],
            update_rabit_args=True,
        )
    else:
        try:
            train(args)
        except TrainingError as error:
            print(f"train: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
