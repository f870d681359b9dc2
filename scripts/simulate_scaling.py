#!/usr/bin/env python3
"""`make simulate-scaling MANIFEST=file`: replay a traffic curve through an endpoint's scaling policies.

    python scripts/simulate_scaling.py tests/fixtures/manifest-prod-gpu.json [--peak 10000] [--base 100]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.scaling_simulator import default_traffic, report, simulate, traffic_zone_of  # noqa: E402
from stacks.config.fields import ConfigError  # noqa: E402
from stacks.config.manifest import load_manifest  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--base", type=float, default=100, help="calls per minute outside the spike")
    parser.add_argument("--peak", type=float, default=10_000, help="calls per minute at the 08:30 peak")
    parser.add_argument("--json", action="store_true", help="one JSON object: with the schedule and reactive only")
    args = parser.parse_args(argv)
    try:
        manifest = load_manifest(args.manifest)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    settings = manifest.endpoint
    if not settings.has_endpoint:
        print(f"{args.manifest}: endpoint.mode: batch has no endpoint to scale (its transform runs on "
              f"{settings.batch.instance_count} x {settings.batch.instance_type} per run)", file=sys.stderr)
        return 1
    zone = traffic_zone_of(settings)
    traffic = default_traffic(args.base, args.peak)
    runs = {"scheduled": simulate(settings, traffic, traffic_zone=zone),
            "reactive_only": simulate(settings, traffic, traffic_zone=zone, scheduled=False)}
    if args.json:
        print(json.dumps({"endpoint": manifest.endpoint_name, "traffic_zone": zone, **runs["scheduled"].summary(),
                          "reactive_only": runs["reactive_only"].summary()}, sort_keys=True))
        return 0
    print(f"{manifest.endpoint_name}: {settings.instance_type}, {settings.min_instances}-{settings.max_instances} "
          f"instances, traffic {args.base:g} -> {args.peak:g} calls/min between 08:00 and 08:30 ({zone}), "
          "back by 10:00")
    for title, simulation in (("with the schedule", runs["scheduled"]), ("reactive only", runs["reactive_only"])):
        rows = report(settings, simulation)
        width = max(len(name) for name, _ in rows)
        print(f" {title}:")
        for name, value in rows:
            print(f"  {name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
