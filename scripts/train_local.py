#!/usr/bin/env python3
"""`make train-local [MODEL=<team>/<model>] [OUT=dir] [CONFIG=file]`: one model of the factory config,
trained here from its seed data with the settings its build would get (problem type, label, features,
quality gate): preprocess -> train -> evaluate, the same scripts SageMaker runs.

Writes OUT/settings.json, OUT/evaluation.json (with quality_gate), OUT/model/ (exactly what is packaged)
and OUT/model.tar.gz. Exits 1 with one line on an unknown model or a missed quality gate."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stacks.common.naming import artifact_bucket_name, model_package_group_name, sagemaker_pipeline_name  # noqa: E402
from stacks.config.factory import load_config  # noqa: E402
from stacks.config.fields import ConfigError  # noqa: E402
from stacks.config.pipeline_settings import pipeline_settings  # noqa: E402


def local_settings(config_file: str, model_ref: str | None) -> dict:
    config = load_config(config_file)
    models = {f"{team.name}/{model.name}": (team, model) for team in config.teams for model in team.models}
    if not models:
        raise ConfigError(f"{config_file}: teams[].models: no model to train")
    ref = model_ref or next(iter(models))
    if ref not in models:
        raise ConfigError(f"MODEL: {ref!r} is not a model of {config_file} (one of {', '.join(models)})")
    team, model = models[ref]
    bucket = artifact_bucket_name(team.name, team.account, team.region)
    return pipeline_settings(
        team=team.name, model=model, pipeline_name=sagemaker_pipeline_name(team.name, model.name),
        group_name=model_package_group_name(team.name, model.name), region=team.region, bucket_name=bucket,
        role_arn=f"arn:aws:iam::{team.account}:role/local", kms_key_arn="local", repository="local", tags={})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/factory.yaml")
    parser.add_argument("--model", help="<team>/<model> (default: the config's first model)")
    parser.add_argument("--out", type=Path, default=Path("build/local-run"))
    args = parser.parse_args(argv)
    try:
        settings = local_settings(args.config, args.model)
    except ConfigError as error:
        print(f"train-local: {error}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "settings.json").write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")
    print(f"train-local: {settings['pipeline_name']} ({settings['problem_type']}, label {settings['label']}, "
          f"gate {settings['quality_metric']} {settings['quality_threshold']})")
    return subprocess.run([sys.executable, str(ROOT / "pipelines" / "modelbuild" / "local_run.py"),
                           "--settings", str(args.out / "settings.json"), "--out", str(args.out)]).returncode


if __name__ == "__main__":
    raise SystemExit(main())
