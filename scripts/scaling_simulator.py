"""A small discrete-time model of an endpoint's autoscaling, minute by minute over one day.

It replays a traffic curve (calls per minute) through the same policies the `ModelEndpoint` construct
deploys, with the values derived by `EndpointSettings`:

- target tracking on invocations per instance (or the GPU-utilisation policy on GPU instances): a
  scale-out alarm after 3 consecutive minutes above target, a scale-in alarm after 15 consecutive
  minutes below 90 % of target (Application Auto Scaling's target-tracking alarms); with several
  policies, scale out when any asks, scale in only when all agree;
- metrics arrive one period late; scale-out and scale-in cooldowns; new instances serve only after
  `startup_minutes`; removed instances stop at once;
- scheduled actions change min/max at their cron time (the simulated day is a Monday).

An instance serves at most `max_rps_per_instance` x 60 calls per minute; demand above what is in service
is the capacity shortfall.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from stacks.config.endpoint import HOURLY_PRICE_USD, EndpointSettings

MINUTES_PER_DAY = 24 * 60
SCALE_OUT_DATAPOINTS = 3
SCALE_IN_DATAPOINTS = 15
SCALE_IN_RATIO = 0.9
METRIC_DELAY_MINUTES = 1
DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
SIMULATED_DAY_OF_WEEK = DAYS["MON"]


def default_traffic(base: float = 100, peak: float = 10_000) -> list[float]:
    """100 calls/min, rising linearly to 10,000 between 08:00 and 08:30, holding an hour, back by 10:00."""
    curve = []
    for minute in range(MINUTES_PER_DAY):
        if 480 <= minute < 510:
            calls = base + (peak - base) * (minute - 480 + 1) / 30
        elif 510 <= minute < 570:
            calls = peak
        elif 570 <= minute < 600:
            calls = peak - (peak - base) * (minute - 570 + 1) / 30
        else:
            calls = base
        curve.append(calls)
    return curve


def _field_matches(spec: str, value: int, names: dict[str, int] | None = None) -> bool:
    if spec in ("*", "?"):
        return True
    for part in spec.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/")
            step = int(step_text)
        if part in ("*", ""):
            low, high = 0, 10**6
        elif "-" not in part and step > 1:
            low, high = _value(part, names), 10**6  # "0/15": from 0, every 15
        elif "-" in part:
            low_text, high_text = part.split("-")
            low, high = _value(low_text, names), _value(high_text, names)
        else:
            low = high = _value(part, names)
        if low <= value <= high and (value - low) % step == 0:
            return True
    return False


def _value(text: str, names: dict[str, int] | None) -> int:
    return names[text.upper()] if names and text.upper() in names else int(text)


def cron_fires(expression: str, minute_of_day: int, day_of_week: int = SIMULATED_DAY_OF_WEEK) -> bool:
    fields = re.match(r"^cron\((.+)\)$", expression).group(1).split()
    minute, hour, _, _, dow, _ = fields
    return (_field_matches(minute, minute_of_day % 60) and _field_matches(hour, minute_of_day // 60)
            and _field_matches(dow, day_of_week, DAYS))


@dataclass
class Simulation:
    demand: list[float]
    in_service: list[int] = field(default_factory=list)
    desired: list[int] = field(default_factory=list)
    shortfall: list[float] = field(default_factory=list)
    over_target: list[bool] = field(default_factory=list)
    capacity_per_instance: float = 0
    hourly_price: float | None = None

    @property
    def instance_hours(self) -> float:
        return sum(self.in_service) / 60

    @property
    def static_fleet(self) -> int:
        return math.ceil(max(self.demand) / self.capacity_per_instance)

    @property
    def static_instance_hours(self) -> float:
        return self.static_fleet * len(self.demand) / 60

    @property
    def peak_shortfall(self) -> float:
        return max(self.shortfall)

    def shortfall_minutes(self) -> list[int]:
        return [minute for minute, short in enumerate(self.shortfall) if short > 0]

    @property
    def minutes_over_target(self) -> int:
        return sum(self.over_target)

    def cost(self, instance_hours: float) -> float | None:
        return None if self.hourly_price is None else instance_hours * self.hourly_price


def simulate(settings: EndpointSettings, demand: list[float]) -> Simulation:
    s = settings
    capacity = s.max_rps_per_instance * 60
    target = s.invocations_target_per_instance
    sim = Simulation(demand=demand, capacity_per_instance=capacity, hourly_price=HOURLY_PRICE_USD.get(s.instance_type))
    low, high = s.min_instances, s.max_instances
    desired = s.initial_instances
    ready_at: list[int] = [0] * desired  # minute each provisioned instance starts serving
    last_scale_out = last_scale_in = -10**6
    # per minute: (invocations per instance, GPU utilisation, a request found no capacity, instances serving)
    observed: list[tuple[float | None, float | None, bool, int]] = []

    for minute, calls in enumerate(demand):
        for entry in s.schedule:
            if cron_fires(entry.cron, minute):
                low, high = entry.min, entry.max
                desired = min(max(desired, low), high)
        # reconcile provisioned instances with the desired count
        while len(ready_at) < desired:
            ready_at.append(minute + math.ceil(s.startup_minutes))
        while len(ready_at) > desired:
            ready_at.pop()  # the newest (possibly still starting) goes first
        serving = sum(1 for ready in ready_at if ready <= minute)
        served = min(calls, serving * capacity)
        sim.in_service.append(len(ready_at))  # billed from provisioning, not from readiness
        sim.desired.append(desired)
        sim.shortfall.append(calls - served)
        no_capacity = serving == 0 and calls > 0
        sim.over_target.append(no_capacity or (serving > 0 and calls / serving > target))
        if serving:
            per_instance = calls / serving
            gpu = min(per_instance / capacity, 1.0) * 100 * s.gpus_per_instance
            observed.append((per_instance, gpu, no_capacity, serving))
        else:
            observed.append((None, None, no_capacity, 0))  # nothing in service reports a datapoint

        visible = observed[: max(len(observed) - METRIC_DELAY_MINUTES, 0)]
        policies: list[tuple[int, float]] = [(0, target)]
        if s.gpu_policy_target is not None:
            policies.append((1, s.gpu_policy_target))
        scale_out_votes: list[int] = []
        scale_in_votes: list[int | None] = []
        for index, policy_target in policies:
            recent = [point[index] for point in visible[-SCALE_IN_DATAPOINTS:]]
            latest = recent[-1] if recent else None
            measured_on = visible[-1][3] if visible else serving  # the capacity the metric was measured on
            # missing datapoints never breach (the alarms treat missing data as not breaching)
            if len(recent) >= SCALE_OUT_DATAPOINTS and all(
                    v is not None and v > policy_target for v in recent[-SCALE_OUT_DATAPOINTS:]):
                scale_out_votes.append(math.ceil(max(measured_on, 1) * latest / policy_target))
            in_alarm = len(recent) >= SCALE_IN_DATAPOINTS and all(
                v is not None and v < SCALE_IN_RATIO * policy_target for v in recent)
            scale_in_votes.append(math.ceil(measured_on * latest / policy_target) if in_alarm else None)
        if scale_out_votes and minute - last_scale_out >= s.scale_out_cooldown_seconds / 60:
            proposal = min(max(max(scale_out_votes), low), high)
            if proposal > desired:
                desired, last_scale_out = proposal, minute
        elif all(v is not None for v in scale_in_votes) and (
                minute - max(last_scale_in, last_scale_out) >= s.scale_in_cooldown_seconds / 60):
            proposal = min(max(max(scale_in_votes), low), high)
            if proposal < desired:
                desired, last_scale_in = proposal, minute
        if s.scale_to_zero and desired == 0 and visible and visible[-1][2]:
            desired = 1  # NoCapacityInvocationFailures alarm: the step policy adds one copy
        desired = min(max(desired, low), high)
    return sim


def spike_start(demand: list[float]) -> int:
    base = demand[0]
    return next((m for m, calls in enumerate(demand) if calls > base), 0)


def report(settings: EndpointSettings, sim: Simulation) -> list[tuple[str, str]]:
    start = spike_start(sim.demand)
    late = [m for m in sim.shortfall_minutes() if m >= start + 2]
    ratio = sim.instance_hours / sim.static_instance_hours
    rows = [
        ("policies", f"invocations/instance target {settings.invocations_target_per_instance:g}/min"
                     + (f", GPU utilisation target {settings.gpu_policy_target:g} "
                        f"(={settings.effective_gpu_target_percent:g} % x {settings.gpus_per_instance} GPU)"
                        if settings.gpu_policy_target else "")
                     + (", scale to zero with wake-up on no capacity" if settings.scale_to_zero else "")
                     + f", {len(settings.schedule)} scheduled action(s)"),
        ("peak demand", f"{max(sim.demand):,.0f} calls/min ({sim.capacity_per_instance:,.0f} per instance at most)"),
        ("peak capacity shortfall", f"{sim.peak_shortfall:,.0f} calls/min"),
        ("shortfall minutes", f"{len(sim.shortfall_minutes())} in total, {len(late)} after the first 2 minutes of "
                              f"the spike at {start // 60:02d}:{start % 60:02d}"),
        ("minutes over target", f"{sim.minutes_over_target}"),
        ("peak instances", f"{max(sim.in_service)} (max_instances {settings.max_instances})"),
        ("instance-hours", f"{sim.instance_hours:.1f} vs {sim.static_instance_hours:.1f} for a static fleet of "
                           f"{sim.static_fleet} ({100 * ratio:.0f} %)"),
    ]
    cost, static_cost = sim.cost(sim.instance_hours), sim.cost(sim.static_instance_hours)
    if cost is not None:
        rows.append(("instance cost per day", f"${cost:,.0f} vs ${static_cost:,.0f} static ({settings.instance_type}, "
                                              "approximate on-demand price)"))
    return rows
