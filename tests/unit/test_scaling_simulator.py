"""The scaling simulator's model, piece by piece, and the prod example against the issue's targets. The
behaviour it models is Application Auto Scaling's (target tracking: 3 datapoints above target to scale out,
15 below 90 % to scale in; cooldowns from the completion of an activity) and SageMaker's (no invocation
datapoint without traffic; high-resolution concurrency published every 10 s)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from scripts.scaling_simulator import (
    Fleet,
    Policy,
    cron_fires,
    default_traffic,
    report,
    schedule_minutes,
    simulate,
    spike_start,
    traffic_zone_of,
)
from stacks.config.endpoint import EndpointSettings
from stacks.config.manifest import load_manifest
from tests.synth import ROOT

PROD = ROOT / "tests" / "fixtures" / "manifest-prod-gpu.json"


def cpu(**overrides) -> EndpointSettings:
    values = {"instance_type": "ml.c5.xlarge", "initial_instances": 1, "min_instances": 1, "max_instances": 10,
              "max_rps_per_instance": 10, "startup_minutes": 5, "scale_out_cooldown_seconds": 60,
              "scale_in_cooldown_seconds": 300}
    return EndpointSettings(**{**values, **overrides})


def test_default_traffic_curve():
    curve = default_traffic()
    assert len(curve) == 1440
    assert curve[479] == 100 and curve[509] == 10_000 and curve[569] == 10_000 and curve[600] == 100
    assert spike_start(curve) == 480


@pytest.mark.parametrize("expression, minute, fires", [
    ("cron(30 7 ? * MON-FRI *)", 7 * 60 + 30, True),
    ("cron(30 7 ? * MON-FRI *)", 7 * 60 + 31, False),
    ("cron(30 7 ? * SAT,SUN *)", 7 * 60 + 30, False),
    ("cron(0/15 * ? * * *)", 45, True),
    ("cron(0/15 * ? * * *)", 50, False),
])
def test_cron_matching_on_a_monday(expression, minute, fires):
    assert cron_fires(expression, minute) is fires


def test_a_schedule_fires_in_its_own_time_zone():
    # 07:30 in Dublin on a summer day (IST, UTC+1) is 06:30 UTC; in UTC it is 07:30 UTC
    assert schedule_minutes("cron(30 7 ? * MON-FRI *)", "Europe/Dublin", "UTC") == {6 * 60 + 30}
    assert schedule_minutes("cron(30 7 ? * MON-FRI *)", "UTC", "UTC") == {7 * 60 + 30}
    assert schedule_minutes("cron(30 7 ? * MON-FRI *)", "Europe/Dublin", "Europe/Dublin") == {7 * 60 + 30}


def test_the_metric_counts_served_calls_so_a_saturated_instance_scales_out_in_steps():
    settings = cpu()  # target 300 calls/min per instance, capacity 600
    sim = simulate(settings, [200] * 10 + [1200] * 40)
    # datapoints 10-12 show 600 served per instance (not the 1200 asked for), visible one minute late: the
    # policy asks for ceil(1 x 600 / 300) = 2 during minute 13
    assert sim.desired[13] == 1 and sim.desired[14] == 2
    assert sim.shortfall[10] == 1200 - 600
    # the next step waits for the first to complete (instances in service) and its cooldown
    assert sim.desired[19] == 2 and max(sim.desired) == 4
    assert sim.lost_calls == sum(sim.shortfall) > 0


def test_scale_in_after_fifteen_minutes_below_ninety_percent_and_cooldown():
    sim = simulate(cpu(initial_instances=4), [100] * 60)
    assert sim.desired[15] == 4
    first_scale_in = next(m for m, d in enumerate(sim.desired) if d < 4)
    assert first_scale_in == 16 and sim.desired[first_scale_in] == 1


def test_the_scale_out_cooldown_starts_when_the_new_instances_are_in_service():
    settings = cpu(scale_out_cooldown_seconds=600, startup_minutes=3)
    sim = simulate(settings, [1000] * 5 + [5000] * 60)
    changes = [m for m in range(1, len(sim.desired)) if sim.desired[m] > sim.desired[m - 1]]
    # each step: 3 minutes to start the instances, then the 10-minute cooldown
    assert all(b - a >= 3 + 10 for a, b in zip(changes, changes[1:])) and len(changes) >= 2


def test_without_traffic_an_invocations_policy_never_scales_in():
    fleet = Fleet(demand=[0.0] * 60, capacity_per_instance=600, policies=[Policy("invocations", 300)], low=0, high=4,
                  desired=2, startup=5, scale_out_cooldown=1, scale_in_cooldown=5)
    fleet.run()
    assert fleet.desired_trace[-1] == 2  # no datapoint, no scale-in alarm


def test_scale_to_zero_on_concurrency_then_wake_up_on_no_capacity():
    settings = cpu(initial_instances=1, min_instances=0, max_instances=2)
    sim = simulate(settings, [0] * 60 + [50] * 30)
    assert sim.desired[16] == 0  # the high-resolution concurrency metric is published at zero
    assert sim.desired[61] == 0 and sim.desired[62] == 1  # minute 60's no-capacity datapoint, seen during 61
    assert sim.shortfall_minutes() == list(range(60, 67))


def test_scheduled_action_prewarms_before_the_spike():
    settings = cpu(schedule=[{"cron": "cron(30 7 ? * MON-FRI *)", "min": 6, "max": 10}])
    sim = simulate(settings, default_traffic(100, 3000))
    assert sim.desired[7 * 60 + 29] == 1 and sim.desired[7 * 60 + 30] == 6
    assert sim.shortfall_minutes() == []
    assert simulate(settings, default_traffic(100, 3000), scheduled=False).shortfall_minutes() != []


def test_gpu_policy_scales_out_when_invocations_alone_would_not():
    invocations_only = cpu(max_rps_per_instance=10)
    gpu = EndpointSettings(instance_type="ml.g5.xlarge", initial_instances=1, min_instances=1, max_instances=10,
                           max_rps_per_instance=10, gpu_utilization_target=40, startup_minutes=5)
    demand = [270] * 30
    assert max(simulate(invocations_only, demand).desired) == 1
    assert max(simulate(gpu, demand).desired) == 2


def test_the_shadow_scales_on_its_share_and_is_billed():
    settings = cpu(shadow={"model_package_arn": "arn:aws:sagemaker:eu-west-1:111111111111:model-package/g/2",
                           "sampling_percent": 50, "min_instances": 1, "max_instances": 5})
    sim = simulate(settings, [200] * 10 + [2400] * 60)
    assert max(sim.shadow.in_service) > 1  # 1,200 calls/min is four times one instance's target
    assert sim.instance_hours == pytest.approx(sum(sim.in_service) / 60 + sum(sim.shadow.in_service) / 60)
    assert sim.static_shadow_fleet == 4  # 1,200 / 300 per instance at the same target


def test_the_static_baseline_runs_at_the_same_target_utilisation():
    sim = simulate(cpu(), [3000] * 60)
    assert sim.static_fleet == 10  # 3,000 calls/min at 300 per instance, not 5 instances at capacity


def test_prod_example_meets_the_issue_targets_with_the_prewarm_and_reports_reactive_honestly():
    manifest = load_manifest(PROD)
    zone = traffic_zone_of(manifest.endpoint)
    sim = simulate(manifest.endpoint, default_traffic(), traffic_zone=zone)
    assert zone == "Europe/Dublin"
    assert len(sim.shortfall_minutes()) <= 2
    assert sim.instance_hours <= 0.40 * sim.static_instance_hours
    reactive = simulate(manifest.endpoint, default_traffic(), traffic_zone=zone, scheduled=False)
    assert reactive.lost_calls > 0  # what the pre-warm exists to avoid
    rows = dict(report(manifest.endpoint, sim))
    assert rows["lost calls"] == "0"


def test_make_simulate_scaling_json_prints_one_object():
    result = subprocess.run([sys.executable, "scripts/simulate_scaling.py", str(PROD), "--json"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.strip().splitlines()
    figures = json.loads(line)
    assert {"shortfall_minutes", "peak_shortfall_calls_per_minute", "lost_calls", "instance_hours",
            "static_instance_hours"} <= set(figures) and set(figures["reactive_only"]) >= {"lost_calls"}


ASYNC = ROOT / "tests" / "fixtures" / "manifest-prod-async.json"


def test_async_queues_what_real_time_would_lose():
    # one instance of 600 calls/min at most, 900 calls/min for 10 minutes: real time loses 300 a minute
    demand = [900] * 10 + [0] * 20
    realtime = simulate(cpu(max_instances=1), demand)
    assert realtime.lost_calls == pytest.approx(3000)
    queued = simulate(cpu(mode="async", max_instances=1), demand)
    assert queued.lost_calls == 0
    assert max(queued.fleet.backlog) == pytest.approx(3000)  # the queue peaks when the burst ends ...
    assert queued.fleet.backlog[14] == 0  # ... and drains at 600 a minute
    assert max(queued.fleet.oldest_wait) == 5  # minute 9's calls are served in minute 13


def test_async_scales_on_the_backlog_per_instance():
    sim = simulate(cpu(mode="async", async_inference={"backlog_per_instance": 100}), [900] * 30)
    assert sim.fleet.policies[0].name == "backlog" and sim.fleet.policies[0].target == 100
    # 300 queued calls a minute on one instance: the metric (one minute late) passes 100 for 3 datapoints
    assert sim.desired[:4] == [1, 1, 1, 1] and max(sim.desired) > 1


def test_async_scales_in_to_zero_when_the_queue_is_empty_and_wakes_up_on_backlog_without_capacity():
    settings = cpu(mode="async", min_instances=0, initial_instances=1, max_instances=2)
    sim = simulate(settings, [0] * 60 + [50] * 30)
    # ApproximateBacklogSizePerInstance is published at 0: 15 datapoints below 90 % of target, then in to zero
    assert sim.desired[15] == 1 and sim.desired[16] == 0
    # HasBacklogWithoutCapacity at 60 and 61, seen one minute late: the alarm fires at 62, +1 instance
    assert sim.desired[62] == 0 and sim.desired[63] == 1
    # the instance serves after its 5-minute start, from 68: minute 60's requests waited 8 minutes, none was lost
    assert sim.lost_calls == 0 and sim.fleet.oldest_wait[67] == 8 and sim.fleet.backlog[68] == 0
    # 50 calls/min keep the queue empty, so the fleet scales in again: a trickle waits at every wake-up
    assert sim.desired[84] == 0


def test_the_async_prod_example_reports_the_spike_as_a_queue():
    manifest = load_manifest(ASYNC)
    sim = simulate(manifest.endpoint, default_traffic(), traffic_zone=traffic_zone_of(manifest.endpoint))
    rows = dict(report(manifest.endpoint, sim))
    assert rows["lost calls"] == "0" and "peak queue" in rows and "longest wait" in rows
    assert "wake-up on backlog without capacity" in rows["policies"]
    summary = sim.summary()
    assert summary["lost_calls"] == 0 and summary["peak_backlog"] > 0 and summary["longest_wait_minutes"] >= 1


def test_a_batch_stage_has_nothing_to_simulate_and_says_so_in_one_line():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "simulate_scaling.py"),
                             str(ROOT / "tests" / "fixtures" / "manifest-prod-batch.json")],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].endswith(
        "endpoint.mode: batch has no endpoint to scale (its transform runs on 2 x ml.m5.xlarge per run)")
