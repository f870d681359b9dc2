#!/usr/bin/env python3
"""`make simulate-scaling MANIFEST=file`: replay a traffic curve through an endpoint's scaling policies.

    python scripts/simulate_scaling.py tests/fixtures/manifest-prod-gpu.json [--peak 10000] [--base 100]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.scaling_simulator import default_traffic, report, simulate  # noqa: E402
from stacks.config.fields import ConfigError  # noqa: E402
from stacks.config.manifest import load_manifest  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--base", type=float, default=100, help="calls per minute outside the spike")
    parser.add_argument("--peak", type=float, default=10_000, help="calls per minute at the 08:30 peak")
    args = parser.parse_args(argv)
    try:
        manifest = load_manifest(args.manifest)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    settings = manifest.endpoint
    simulation = simulate(settings, default_traffic(args.base, args.peak))
    print(f"{manifest.endpoint_name}: {settings.instance_type}, {settings.min_instances}-{settings.max_instances} "
          f"instances, traffic {args.base:g} -> {args.peak:g} calls/min between 08:00 and 08:30, back by 10:00")
    width = max(len(name) for name, _ in report(settings, simulation))
    for name, value in report(settings, simulation):
        print(f"  {name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
