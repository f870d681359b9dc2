"""The seed scripts: the local run (the `local_run` fixture, and the three-class run) starts each of them as its
own process, file in and files out, the way SageMaker runs them; the other tests call a script's `main(argv)` in
this process, which is all its `__main__` block does (`raise SystemExit(main())`), so each of them does not pay
a fresh interpreter's pandas, scikit-learn and XGBoost imports."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from tests.pipelines.conftest import SEED

CODE = SEED / "code"
DATA = SEED / "data" / "transactions.csv"


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str


def script(name: str, *args: str) -> Finished:
    """`python code/<name>.py ARGS` in this process: its exit code (argparse's SystemExit included) and output."""
    module = importlib.import_module(name)
    assert Path(module.__file__) == CODE / f"{name}.py"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            returncode = module.main(list(args))
        except SystemExit as exit_:
            returncode = exit_.code if isinstance(exit_.code, int) else 1
    return Finished(returncode, stdout.getvalue(), stderr.getvalue())


@pytest.fixture(scope="module")
def local_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local-run")
    result = subprocess.run([sys.executable, str(SEED / "local_run.py"), "--out", str(out)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return out


def test_preprocess_splits_70_15_15_stratified_and_writes_baseline_without_label(local_run):
    data = local_run / "data"
    train = pd.concat(pd.read_csv(p) for p in sorted((data / "train").glob("*.csv")))
    validation = pd.read_csv(data / "validation" / "validation.csv")
    test = pd.read_csv(data / "test" / "test.csv")
    baseline = pd.read_csv(data / "baseline" / "baseline.csv")
    total = len(pd.read_csv(DATA))
    assert (len(train), len(validation), len(test)) == (round(total * 0.7), round(total * 0.15), round(total * 0.15))
    assert list(train.columns)[0] == "is_fraud"
    fraud_rate = pd.read_csv(DATA)["is_fraud"].mean()
    for split in (train, validation, test):
        assert split["is_fraud"].mean() == pytest.approx(fraud_rate, abs=0.002)
    assert "is_fraud" not in baseline.columns
    assert list(baseline.columns) == list(train.columns)[1:]
    assert len(baseline) == len(train)


def test_preprocess_is_deterministic_and_shards_for_distributed_training(tmp_path):
    for run in ("a", "b"):
        result = script("preprocess", "--input-dir", str(DATA), "--output-dir", str(tmp_path / run),
                        "--train-shards", "3")
        assert result.returncode == 0, result.stderr
    shards = sorted((tmp_path / "a" / "train").glob("*.csv"))
    assert [p.name for p in shards] == ["part-0000.csv", "part-0001.csv", "part-0002.csv"]
    for relative in ("train/part-0001.csv", "validation/validation.csv", "test/test.csv"):
        assert (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes()


def test_preprocess_names_a_missing_input(tmp_path):
    result = script("preprocess", "--input-dir", str(tmp_path / "absent"), "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"preprocess: no input CSV file found in {tmp_path / 'absent'}"


def test_preprocess_names_a_missing_label_column(tmp_path):
    source = tmp_path / "in.csv"
    pd.read_csv(DATA).drop(columns=["is_fraud"]).head(50).to_csv(source, index=False)
    result = script("preprocess", "--input-dir", str(source), "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 1
    assert result.stderr.startswith(f"preprocess: label column 'is_fraud' is not in {source} (columns: amount, hour")


def container_model_files(model_dir: Path) -> list[Path]:
    """The files the SageMaker XGBoost container loads in algorithm mode: every regular file in the model
    directory whose name does not start with '.' (aws/sagemaker-xgboost-container,
    src/sagemaker_xgboost_container/algorithm_mode/serve_utils.py, _get_full_model_paths; with
    SAGEMAKER_INFERENCE_ENSEMBLE defaulting to "true" every one of them is loaded, get_loaded_booster)."""
    return [model_dir / name for name in os.listdir(model_dir)
            if os.path.isfile(model_dir / name) and not name.startswith(".")]


def load_like_the_container(model_dir: Path) -> list:
    """get_loaded_booster's rule: each file must load as a pickle or, failing that, with Booster.load_model."""
    import pickle

    import xgboost as xgb

    boosters = []
    for path in container_model_files(model_dir):
        try:
            boosters.append(pickle.loads(path.read_bytes()))
        except Exception:
            booster = xgb.Booster()
            booster.load_model(path)  # raises, as the container does, for anything that is not a model
            boosters.append(booster)
    return boosters


def test_the_packaged_model_loads_in_the_serving_container(local_run, tmp_path):
    import tarfile

    with tarfile.open(local_run / "model.tar.gz") as archive:  # what SageMaker extracts to /opt/ml/model
        archive.extractall(tmp_path / "opt-ml-model", filter="data")
    assert [p.name for p in container_model_files(tmp_path / "opt-ml-model")] == ["xgboost-model"]
    (booster,) = load_like_the_container(tmp_path / "opt-ml-model")
    assert booster.num_features() == 11


def test_a_metadata_file_in_the_model_directory_would_break_serving(local_run, tmp_path):
    import shutil

    import xgboost as xgb

    broken = tmp_path / "model"
    shutil.copytree(local_run / "model", broken)
    (broken / "model-metadata.json").write_text(json.dumps({"feature_names": ["amount"]}))
    with pytest.raises(xgb.core.XGBoostError):
        load_like_the_container(broken)


def test_train_writes_its_metadata_to_the_output_data_not_the_model(local_run):
    metadata = json.loads((local_run / "output-data" / "training-metadata.json").read_text())
    assert metadata["feature_names"][0] == "amount"
    assert metadata["objective"] == "binary:logistic"
    assert metadata["params"]["device"] == "cpu"  # no GPU on this host: chosen at run time


def test_train_resumes_from_the_latest_checkpoint(tmp_path):
    import train

    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    for rounds in (10, 30, 20):
        (checkpoints / f"checkpoint-{rounds}.json").write_text("{}")
    path, done = train.latest_checkpoint(checkpoints)
    assert (path.name, done) == ("checkpoint-30.json", 30)
    assert train.latest_checkpoint(tmp_path / "none") == (None, 0)


def test_train_checkpoints_and_stops_at_num_round(local_run, tmp_path):
    data = local_run / "data"
    result = script("train", "--train", str(data / "train"), "--validation", str(data / "validation"),
                    "--model-dir", str(tmp_path / "model"), "--checkpoint-dir", str(tmp_path / "ckpt"),
                    "--num_round", "20", "--early_stopping_rounds", "100")
    assert result.returncode == 0, result.stderr
    assert [p.name for p in (tmp_path / "ckpt").glob("*.json")] == ["checkpoint-20.json"]
    # a restart after an interruption has nothing left to do and still writes the model
    result = script("train", "--train", str(data / "train"), "--model-dir", str(tmp_path / "model2"),
                    "--checkpoint-dir", str(tmp_path / "ckpt"), "--num_round", "20")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "model2" / "xgboost-model").exists()


def test_evaluate_writes_the_model_quality_report_and_meets_the_auc_target(local_run):
    report = json.loads((local_run / "evaluation.json").read_text())
    metrics = report["binary_classification_metrics"]
    assert set(metrics) == {"auc", "accuracy", "precision", "recall", "f1"}
    for metric in metrics.values():
        assert set(metric) == {"value", "standard_deviation"}
        assert 0 <= metric["standard_deviation"] < 0.1
    assert metrics["auc"]["value"] >= 0.90


def test_evaluate_reads_the_model_tarball_sagemaker_produces(local_run, tmp_path):
    import tarfile

    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as archive:
        archive.add(local_run / "model" / "xgboost-model", arcname="xgboost-model")
    result = script("evaluate", "--model", str(tmp_path), "--test", str(local_run / "data" / "test"),
                    "--output-dir", str(tmp_path / "eval"))
    assert result.returncode == 0, result.stderr
    report = json.loads((local_run / "evaluation.json").read_text())
    assert json.loads((tmp_path / "eval" / "evaluation.json").read_text()) == {
        "binary_classification_metrics": report["binary_classification_metrics"]}
    assert report["quality_gate"] == {"metric": "auc", "threshold": 0.8, "comparison": ">=", "passed": True,
                                      "value": report["binary_classification_metrics"]["auc"]["value"]}


def test_evaluate_names_a_missing_model(tmp_path, local_run):
    result = script("evaluate", "--model", str(tmp_path / "nothing"), "--test", str(local_run / "data" / "test"),
                    "--output-dir", str(tmp_path))
    assert result.returncode == 1
    assert "no xgboost-model or model.tar.gz found at" in result.stderr


def test_regression_metrics_section():
    import evaluate
    import numpy as np

    y = np.array([1.0, 2.0, 3.0, 4.0])
    report = evaluate.evaluate(y, y + 0.5, "regression")
    assert report["regression_metrics"]["rmse"]["value"] == pytest.approx(0.5)
    assert set(report["regression_metrics"]) == {"mse", "rmse", "mae", "r2"}


def test_evaluate_writes_the_predictions_the_model_quality_baseline_reads(local_run):
    predictions = pd.read_csv(local_run / "predictions.csv")
    assert list(predictions.columns) == ["label", "probability", "prediction"]
    assert len(predictions) == len(pd.read_csv(local_run / "data" / "test" / "test.csv"))
    assert set(predictions["prediction"]) <= {0, 1} and predictions["probability"].between(0, 1).all()


def test_evaluate_writes_the_clarify_configs_for_baselining_and_for_the_monitors(local_run, tmp_path):
    spec = {"label": "is_fraud", "probability_threshold": 0.5,
            "predictor": {"instance_type": "ml.m5.xlarge", "initial_instance_count": 1,
                          "content_type": "text/csv", "accept_type": "text/csv"},
            "bias": {"label_values_or_threshold": [1],
                     "facet": [{"name_or_index": "foreign", "value_or_threshold": [1]}]},
            "shap": {"baseline": [[0]], "num_samples": 100, "agg_method": "mean_abs", "use_logit": False,
                     "save_local_shap_values": False}}
    result = script("evaluate", "--model", str(local_run / "model"), "--test", str(local_run / "data" / "test"),
                    "--output-dir", str(tmp_path / "eval"), "--clarify-dir", str(tmp_path / "clarify"),
                    "--clarify-spec", json.dumps(spec), "--clarify-model-name", "shadow-model")
    assert result.returncode == 0, result.stderr
    test = pd.read_csv(local_run / "data" / "test" / "test.csv")
    features = list(test.columns[1:])

    def read(kind, name):
        return json.loads((tmp_path / "clarify" / kind / f"{name}.json").read_text())

    bias = read("bias", "analysis_config")
    assert bias["predictor"]["model_name"] == "shadow-model" and bias["label"] == "is_fraud"
    assert bias["methods"]["post_training_bias"] == {"methods": "all"} and bias["facet"] == spec["bias"]["facet"]
    assert "headers" not in bias  # the test split's header row names the columns
    assert read("bias", "monitoring_config") == {**spec["bias"], "headers": ["is_fraud", *features], "label": "is_fraud"}
    explain = read("explainability", "analysis_config")
    baseline = explain["methods"]["shap"]["baseline"]
    assert baseline == [[float(v) for v in test[features].median()]]
    monitor = read("explainability", "monitoring_config")
    assert monitor["headers"] == features and "model_name" not in monitor["predictor"]
    assert monitor["methods"]["shap"]["baseline"] == baseline


def test_evaluate_refuses_a_clarify_spec_without_a_model_name(local_run, tmp_path):
    result = script("evaluate", "--model", str(local_run / "model"), "--test", str(local_run / "data" / "test"),
                    "--output-dir", str(tmp_path), "--clarify-spec", "{}")
    assert result.returncode == 1 and "--clarify-spec needs --clarify-model-name" in result.stderr


def test_multiclass_training_infers_the_number_of_classes(tmp_path):
    import train

    assert train.class_count([0.0, 2.0, 1.0, 2.0], None) == 3
    assert train.class_count([0.0, 1.0], 4) == 4
    for labels, given, message in (([0.0, 1.5], None, "integers 0..K-1"), ([0.0, 3.0], 2, "less than the largest"),
                                   ([0.0, 0.0], None, "at least two classes")):
        with pytest.raises(train.TrainingError, match=message):
            train.class_count(labels, given)


def test_a_three_class_model_trains_and_passes_its_gate_locally(tmp_path):
    sys.path.insert(0, str(SEED / "data"))
    import seed_data

    seed_data.generate("multiclass_classification", rows=6000).to_csv(tmp_path / "customers.csv", index=False)
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"problem_type": "multiclass_classification", "label": "segment",
                                    "quality_metric": "accuracy", "quality_threshold": 0.8}))
    result = subprocess.run([sys.executable, str(SEED / "local_run.py"), "--settings", str(settings), "--out",
                             str(tmp_path / "out"), "--input", str(tmp_path / "customers.csv")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out" / "evaluation.json").read_text())
    assert report["quality_gate"]["passed"] and report["quality_gate"]["metric"] == "accuracy"
    metadata = json.loads((tmp_path / "out" / "output-data" / "training-metadata.json").read_text())
    assert metadata["params"]["num_class"] == 3
    predictions = pd.read_csv(tmp_path / "out" / "predictions.csv")
    assert set(predictions["prediction"]) == {0, 1, 2}


def test_the_seeded_repository_runs_its_own_tests():
    """The tests CodeBuild runs before any SageMaker job (the definition render is covered above)."""
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(SEED),
                             str(SEED / "tests"), "-k", "not definition"], capture_output=True, text=True,
                            timeout=300, cwd=SEED)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "3 passed" in result.stdout


def test_evaluate_scores_the_champion_on_the_challengers_own_test_split(local_run, tmp_path):
    result = script("evaluate", "--model", str(local_run / "model"), "--test", str(local_run / "data" / "test"),
                    "--output-dir", str(tmp_path), "--quality-metric", "auc", "--quality-threshold", "0.8",
                    "--champion-model", str(local_run / "model"), "--champion-arn", "arn:champion")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "evaluation.json").read_text())
    challenger = report["binary_classification_metrics"]["auc"]["value"]
    assert report["champion"]["package_arn"] == "arn:champion"
    assert report["champion"]["binary_classification_metrics"]["auc"]["value"] == challenger
    assert report["comparison"] == {"metric": "auc", "challenger": challenger, "champion": challenger,
                                    "improvement": 0.0}
    # a champion that cannot score this split (another schema) is reported, not fatal
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "xgboost-model").write_text("not a model")
    result = script("evaluate", "--model", str(local_run / "model"), "--test", str(local_run / "data" / "test"),
                    "--output-dir", str(tmp_path / "b"), "--quality-metric", "auc", "--quality-threshold", "0.8",
                    "--champion-model", str(broken))
    assert result.returncode == 0, result.stderr
    assert "error" in json.loads((tmp_path / "b" / "evaluation.json").read_text())["champion"]
