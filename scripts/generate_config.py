#!/usr/bin/env python3
"""Write a factory config with N teams of M models each (for `make bench` and the scale tests).

    python scripts/generate_config.py --teams 25 --models 2 > /tmp/factory-25.yaml
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import yaml


def generate_config(teams: int, models_per_team: int) -> dict[str, Any]:
    return {
        "factory": {"name": "bench-ml", "region": "eu-west-1", "tags": {"owner": "platform"}},
        "teams": [
            {
                "name": f"team-{index:03d}",
                "account": f"{100000000000 + index:012d}",
                "region": ("eu-west-1", "us-east-1", "us-west-2")[index % 3],
                "cost_center": f"cc-{index:04d}",
                "monthly_budget_usd": 1000 + 100 * index,
                "approvers": [f"leads-{index}@example.com"],
                "models": [
                    {
                        "name": f"model-{model:02d}",
                        "problem_type": "binary_classification",
                        "training": {"instance_type": "ml.g5.xlarge", "use_spot": True},
                    }
                    for model in range(models_per_team)
                ],
            }
            for index in range(teams)
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, required=True)
    parser.add_argument("--models", type=int, default=2)
    args = parser.parse_args()
    yaml.safe_dump(generate_config(args.teams, args.models), sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
