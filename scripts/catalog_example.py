#!/usr/bin/env python3
"""Write config/catalog-example.json: what a live export of the example config's catalog looks like (every
stage of every model, the client code the deploy would record, the seed data's columns), checked with the
catalog's own entry model. `python scripts/catalog_example.py` regenerates it; a test keeps it in step."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lambdas.catalog_publish.entry import parse_entry  # noqa: E402
from pipelines.deploy.client_snippets import snippets  # noqa: E402
from pipelines.deploy.tasks import input_content_type, serving_entry  # noqa: E402
from stacks.common.naming import artifact_bucket_name, async_locations, endpoint_name  # noqa: E402
from stacks.config.factory import FactoryConfig, load_config  # noqa: E402

EXAMPLE = ROOT / "config" / "catalog-example.json"
# the seed data's columns and kinds per problem type (pipelines/modelbuild/data/seed_data.py)
FEATURES = {
    "binary_classification": [("amount", "numeric"), ("hour", "categorical"), ("merchant_category", "categorical"),
                              ("distance_from_home_km", "numeric"), ("distance_from_last_txn_km", "numeric"),
                              ("ratio_to_median_amount", "numeric"), ("online", "categorical"),
                              ("new_device", "categorical"), ("foreign", "categorical"),
                              ("txn_count_24h", "categorical"), ("card_age_days", "numeric")],
    "regression": [("price", "numeric"), ("competitor_price", "numeric"), ("promo", "categorical"),
                   ("day_of_week", "categorical"), ("temperature_c", "numeric"), ("holiday", "categorical"),
                   ("stock_level", "numeric")],
}
ROWS = {"binary_classification": "129.5,14,5,3.2,1.1,1.4,1,0,0,3,812\n18.2,9,2,0.4,0.3,0.6,0,0,0,1,2210",
        "regression": "4.99,5.2,1,3,18.5,0,120\n5.49,5.1,0,6,11.0,0,80"}
METRICS = {"binary_classification": {"auc": 0.958, "accuracy": 0.941, "precision": 0.812, "recall": 0.774, "f1": 0.793},
           "regression": {"r2": 0.712, "rmse": 12.4, "mae": 8.9, "mse": 153.8}}
COST = {"binary_classification": 1843.27, "regression": 212.4}


def example_export(config: FactoryConfig) -> dict:
    entries = []
    for team in config.teams:
        for number, model in enumerate(team.models):
            for stage in ("staging", "prod"):
                settings = getattr(model.endpoint, stage)
                name = endpoint_name(team.name, model.name, stage)
                bucket = artifact_bucket_name(team.name, team.account, team.region)
                version = 7 + number + (stage == "staging")
                url = (f"https://{team.name[:5]}0api.execute-api.{team.region}.amazonaws.com/{stage}/{model.name}/invocations"
                       if settings.api else None)
                endpoint = settings.model_dump(mode="json")
                entry = {
                    "team": team.name, "model": model.name, "stage": stage, "description": model.description,
                    "problem_type": model.problem_type, "version": version,
                    "model_package_arn": f"arn:aws:sagemaker:{team.region}:{team.account}:model-package/"
                                         f"mf-{team.name}-{model.name}/{version}",
                    "metrics": METRICS.get(model.problem_type, {}),
                    "input_schema": {"content_type": input_content_type(endpoint), "features": [
                        {"name": n, "type": t} for n, t in FEATURES.get(model.problem_type, [])]},
                    "serving": serving_entry(team=team.name, model=model.name, stage=stage, endpoint=endpoint, url=url),
                    "client": snippets(team=team.name, model=model.name, stage=stage, region=team.region,
                                       endpoint=endpoint, url=url,
                                       body=ROWS.get(model.problem_type, "1,2"),
                                       async_input=async_locations(bucket, name)["input"]),
                    "owners": list(team.approvers),
                    "lineage": {"model_data_url": f"s3://{bucket}/mf-{team.name}-{model.name}/executions/"
                                                  f"e{version}/train/model.tar.gz",
                                "image": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                                "source_commit": f"{version}f3c9a1e0b7d2", "build_execution": f"build-{version}",
                                "approval": "Approved"},
                    "monthly_cost_usd": COST.get(model.problem_type),
                    "recorded_at": f"2026-12-01T0{version % 10}:15:00+00:00",
                }
                parse_entry(entry)
                entries.append(entry)
    return {"catalog": "mf-catalog", "factory": config.factory.name, "exported_at": "2026-12-01T12:00:00+00:00",
            "entries": entries}


if __name__ == "__main__":
    EXAMPLE.write_text(json.dumps(example_export(load_config(ROOT / "config" / "factory.yaml")), indent=2) + "\n")
    print(f"wrote {EXAMPLE.relative_to(ROOT)}")
