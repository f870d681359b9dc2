"""A discrete-time model of an endpoint's autoscaling, minute by minute over one day.

It replays a traffic curve (calls per minute, in the local time of `traffic_zone`) through the policies the
`ModelEndpoint` construct deploys, with the values `EndpointSettings` derives:

- target tracking on invocations per instance, or on concurrent requests per instance (per copy for an
  inference component); the GPU-utilisation policy where the construct deploys one. Application Auto
  Scaling's target-tracking alarms: scale out after 3 consecutive datapoints above target (high-resolution
  metrics: 3 datapoints of 10 s, so within the minute), scale in after 15 consecutive minutes below 90 % of
  target; with several policies, scale out when any asks, scale in only when all agree;
- the metrics are computed from the calls that were served, not from the demand: calls beyond capacity are
  lost (counted in `lost_calls`) and never reach the metric;
- SageMaker publishes no invocation datapoint in a minute without traffic (so an invocations policy cannot
  scale in to zero); the high-resolution concurrency metric is published at zero too. Standard metrics
  arrive one minute late;
- cooldowns start when a scaling activity completes (the new instances are in service), as AWS defines
  them; new instances serve after `startup_minutes`; removed instances stop at once;
- scheduled actions fire at their cron in their own time zone, on a Monday in summer (daylight saving time);
- a shadow variant receives its sampling share of the traffic and scales on its own policy and bounds;
- scale to zero: a request that finds no copy fails (NoCapacityInvocationFailures) and the step policy adds
  one copy;
- `mode: async`: requests queue instead of failing (first in, first out) and nothing is lost; the policy
  tracks ApproximateBacklogSizePerInstance (queued requests / instances, published each minute, also at
  zero, absent at zero instances); at zero instances HasBacklogWithoutCapacity (1 while requests wait) fires
  the wake-up alarm after 2 one-minute datapoints and the step policy adds one instance.

The static baseline is a fleet sized for the peak at the same target utilisation as the policies.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from stacks.config.endpoint import HOURLY_PRICE_USD, SAFETY_FACTOR, EndpointSettings

MINUTES_PER_DAY = 24 * 60
SCALE_OUT_DATAPOINTS = 3
SCALE_IN_DATAPOINTS = 15
SCALE_IN_RATIO = 0.9
METRIC_DELAY_MINUTES = 1
DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
# a Monday in summer: Europe is on daylight saving time, so a zone's offset matters
SIMULATED_DATE = date(2026, 7, 13)


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


def cron_fires(expression: str, minute_of_day: int, day_of_week: int = DAYS["MON"]) -> bool:
    """Whether cron(...) fires at that local minute of a day of week (1 = Sunday, as in cron)."""
    fields = re.match(r"^cron\((.+)\)$", expression).group(1).split()
    minute, hour, _, _, dow, _ = fields
    return (_field_matches(minute, minute_of_day % 60) and _field_matches(hour, minute_of_day // 60)
            and _field_matches(dow, day_of_week, DAYS))


def schedule_minutes(expression: str, zone: str, traffic_zone: str, day: date = SIMULATED_DATE) -> set[int]:
    """The simulated day's minutes (local time of `traffic_zone`) at which a cron in `zone` fires."""
    start = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(traffic_zone))
    fired = set()
    for minute in range(MINUTES_PER_DAY):
        local = (start + timedelta(minutes=minute)).astimezone(ZoneInfo(zone))
        cron_day = (local.isoweekday() % 7) + 1  # Monday 2 ... Sunday 1
        if cron_fires(expression, local.hour * 60 + local.minute, cron_day):
            fired.add(minute)
    return fired


@dataclass
class Policy:
    name: str
    target: float
    high_resolution: bool = False


@dataclass
class Fleet:
    """One scalable target: a production variant, an inference component's copies or a shadow variant."""

    demand: list[float]
    capacity_per_instance: float
    policies: list[Policy]
    low: int
    high: int
    desired: int
    startup: int
    scale_out_cooldown: float
    scale_in_cooldown: float
    schedule: list[tuple[set[int], int, int]] = field(default_factory=list)
    wake_from_zero: bool = False
    # mode async: calls wait in a queue instead of being lost
    queued: bool = False
    gpus: int = 0
    concurrency_at_target: float = 0
    in_service: list[int] = field(default_factory=list)
    desired_trace: list[int] = field(default_factory=list)
    shortfall: list[float] = field(default_factory=list)
    backlog: list[float] = field(default_factory=list)
    # per minute, how long the oldest request still queued at its end has waited (minutes)
    oldest_wait: list[int] = field(default_factory=list)

    def metric(self, policy: Policy, calls: float, served: float, serving: int) -> float | None:
        if policy.name == "backlog":
            return self.backlog[-1] / serving if serving else None
        if policy.name == "concurrency":
            # published every 10 s, also at zero; Little's law with the configured target at the invocations
            # target's utilisation: concurrency grows with the served load per instance
            per_instance = served / serving if serving else 0.0
            return per_instance / (self.capacity_per_instance * SAFETY_FACTOR) * self.concurrency_at_target
        if calls == 0 or serving == 0:
            return None  # no traffic, no invocation datapoint; nothing in service reports utilisation
        per_instance = served / serving
        if policy.name == "invocations":
            return per_instance
        return min(per_instance / self.capacity_per_instance, 1.0) * 100 * self.gpus  # gpu

    def run(self) -> None:
        ready_at: list[int] = [0] * self.desired
        out_done = in_done = -10**6  # when the last scale-out / scale-in activity completed
        pending_out: int | None = None  # minute the scale-out in progress completes
        history: list[list[float | None]] = []
        waiting_without_capacity: list[bool] = []
        self._queue: list[list[float]] = []  # [arrival minute, calls] oldest first
        for minute, calls in enumerate(self.demand):
            for fired, low, high in self.schedule:
                if minute in fired:
                    self.low, self.high = low, high
                    self.desired = min(max(self.desired, low), high)
            while len(ready_at) < self.desired:
                ready_at.append(minute + self.startup)
            while len(ready_at) > self.desired:
                ready_at.pop()  # the newest (possibly still starting) goes first
            if pending_out is not None and minute >= pending_out:
                out_done, pending_out = pending_out, None
            serving = sum(1 for ready in ready_at if ready <= minute)
            if self.queued:
                served = self._serve_queue(minute, calls, serving * self.capacity_per_instance)
            else:
                served = min(calls, serving * self.capacity_per_instance)
                self.shortfall.append(calls - served)
            self.in_service.append(len(ready_at))  # billed from provisioning, not from readiness
            self.desired_trace.append(self.desired)
            history.append([self.metric(p, calls, served, serving) for p in self.policies])
            waiting_without_capacity.append(bool(self.queued and self.backlog[-1] > 0 and serving == 0))

            votes_out, votes_in = [], []
            for index, policy in enumerate(self.policies):
                delay = 0 if policy.high_resolution else METRIC_DELAY_MINUTES
                visible = [h[index] for h in history[: len(history) - delay]]
                needed_out = 1 if policy.high_resolution else SCALE_OUT_DATAPOINTS
                recent_out, recent_in = visible[-needed_out:], visible[-SCALE_IN_DATAPOINTS:]
                capacity_now = max(serving, 1)
                if len(recent_out) == needed_out and all(v is not None and v > policy.target for v in recent_out):
                    votes_out.append(math.ceil(capacity_now * recent_out[-1] / policy.target))
                in_alarm = len(recent_in) == SCALE_IN_DATAPOINTS and all(
                    v is not None and v < SCALE_IN_RATIO * policy.target for v in recent_in)
                votes_in.append(math.ceil(serving * recent_in[-1] / policy.target) if in_alarm else None)
            if votes_out and pending_out is None and minute - out_done >= self.scale_out_cooldown:
                proposal = min(max(max(votes_out), self.low), self.high)
                if proposal > self.desired:
                    self.desired = proposal
                    pending_out = minute + 1 + self.startup
            elif votes_in and all(v is not None for v in votes_in) and pending_out is None and (
                    minute - max(in_done, out_done) >= self.scale_in_cooldown):
                proposal = min(max(max(votes_in), self.low), self.high)
                if proposal < self.desired:
                    self.desired, in_done = proposal, minute
            if self.wake_from_zero and self.desired == 0 and calls > 0 and minute >= 1 and self.demand[minute - 1] > 0:
                self.desired = 1  # NoCapacityInvocationFailures (one minute late): the step policy adds a copy
            # HasBacklogWithoutCapacity, one minute late, 2 of 2 datapoints: the step policy adds an instance
            visible = waiting_without_capacity[:-METRIC_DELAY_MINUTES]
            if self.queued and self.desired == 0 and len(visible) >= 2 and all(visible[-2:]):
                self.desired = 1
            self.desired = min(max(self.desired, self.low), self.high)


    def _serve_queue(self, minute: int, calls: float, capacity: float) -> float:
        """First in, first out: this minute's calls join the queue, the fleet serves up to its capacity."""
        if calls > 0:
            self._queue.append([minute, calls])
        served, left = 0.0, capacity
        while self._queue and left > 0:
            take = min(self._queue[0][1], left)
            self._queue[0][1] -= take
            served, left = served + take, left - take
            if self._queue[0][1] <= 1e-9:
                self._queue.pop(0)
        self.backlog.append(sum(count for _, count in self._queue))
        self.oldest_wait.append(minute - self._queue[0][0] + 1 if self._queue else 0)
        self.shortfall.append(0.0)  # nothing is lost: it waits
        return served


@dataclass
class Simulation:
    demand: list[float]
    settings: EndpointSettings
    fleet: Fleet
    shadow: Fleet | None = None
    hourly_price: float | None = None

    @property
    def in_service(self) -> list[int]:
        return self.fleet.in_service

    @property
    def desired(self) -> list[int]:
        return self.fleet.desired_trace

    @property
    def shortfall(self) -> list[float]:
        return self.fleet.shortfall

    @property
    def capacity_per_instance(self) -> float:
        return self.fleet.capacity_per_instance

    @property
    def lost_calls(self) -> float:
        return sum(self.shortfall)

    @property
    def peak_shortfall(self) -> float:
        return max(self.shortfall)

    def shortfall_minutes(self) -> list[int]:
        return [minute for minute, short in enumerate(self.shortfall) if short > 0]

    @property
    def shadow_instance_hours(self) -> float:
        return sum(self.shadow.in_service) / 60 if self.shadow else 0.0

    @property
    def instance_hours(self) -> float:
        return sum(self.fleet.in_service) / 60 + self.shadow_instance_hours

    @property
    def static_fleet(self) -> int:
        """Instances a fixed fleet needs to hold the peak at the policies' target utilisation."""
        return math.ceil(max(self.demand) / self.settings.invocations_target_per_instance)

    @property
    def static_shadow_fleet(self) -> int:
        if not self.settings.shadow:
            return 0
        peak = max(self.demand) * self.settings.shadow.sampling_percent / 100
        return max(math.ceil(peak / self.settings.invocations_target_per_instance), self.settings.shadow.min_instances)

    @property
    def static_instance_hours(self) -> float:
        return (self.static_fleet + self.static_shadow_fleet) * len(self.demand) / 60

    def cost(self, instance_hours: float) -> float | None:
        return None if self.hourly_price is None else instance_hours * self.hourly_price

    def summary(self) -> dict:
        return {
            "shortfall_minutes": len(self.shortfall_minutes()),
            "peak_shortfall_calls_per_minute": round(self.peak_shortfall, 1),
            "lost_calls": round(self.lost_calls),
            "instance_hours": round(self.instance_hours, 2),
            "shadow_instance_hours": round(self.shadow_instance_hours, 2),
            "static_instance_hours": round(self.static_instance_hours, 2),
            "instance_hours_ratio": round(self.instance_hours / self.static_instance_hours, 3),
            "peak_instances": max(self.in_service),
            **({"peak_backlog": round(max(self.fleet.backlog)), "longest_wait_minutes": max(self.fleet.oldest_wait),
                "minutes_with_backlog_over_a_minute": self.minutes_waiting()} if self.fleet.queued else {}),
        }

    def minutes_waiting(self) -> int:
        """Minutes whose oldest queued request had already waited more than a minute (async only)."""
        return sum(1 for wait in self.fleet.oldest_wait if wait > 1)


def policies(settings: EndpointSettings) -> list[Policy]:
    """The target-tracking policies the construct deploys for these settings."""
    s = settings
    if s.is_async:
        chosen = [Policy("backlog", s.async_inference.backlog_per_instance)]
        if s.gpu_policy_target is not None:
            chosen.append(Policy("gpu", s.gpu_policy_target))
        return chosen
    if s.scale_to_zero:
        chosen = [Policy("concurrency", s.target_concurrency_per_instance, high_resolution=True)]
        if s.effective_gpu_target_percent is not None:
            chosen.append(Policy("gpu", s.effective_gpu_target_percent))
        return chosen
    chosen = [Policy("invocations", s.invocations_target_per_instance) if s.scaling_metric == "invocations"
              else Policy("concurrency", s.target_concurrency_per_instance, high_resolution=True)]
    if s.gpu_policy_target is not None:
        chosen.append(Policy("gpu", s.gpu_policy_target))
    return chosen


def simulate(settings: EndpointSettings, demand: list[float], *, traffic_zone: str = "UTC",
             scheduled: bool = True) -> Simulation:
    """`traffic_zone`: the time zone of the curve's clock; `scheduled=False`: reactive scaling only."""
    s = settings
    capacity = s.max_rps_per_instance * 60
    common = {"startup": math.ceil(s.startup_minutes), "scale_out_cooldown": s.scale_out_cooldown_seconds / 60,
              "scale_in_cooldown": s.scale_in_cooldown_seconds / 60, "capacity_per_instance": capacity,
              "concurrency_at_target": s.target_concurrency_per_instance}
    schedule = [(schedule_minutes(e.cron, e.timezone, traffic_zone), e.min, e.max) for e in s.schedule] if scheduled else []
    fleet = Fleet(demand=demand, policies=policies(s), low=s.min_instances, high=s.max_instances,
                  desired=max(s.initial_instances, 1) if s.is_async else s.initial_instances, schedule=schedule,
                  wake_from_zero=s.scale_to_zero, queued=s.is_async,
                  gpus=1 if s.scale_to_zero else s.gpus_per_instance, **common)
    fleet.run()
    shadow = None
    if s.shadow:
        share = [calls * s.shadow.sampling_percent / 100 for calls in demand]
        shadow = Fleet(demand=share, policies=[Policy("invocations", s.invocations_target_per_instance)],
                       low=s.shadow.min_instances, high=s.shadow.max_instances, desired=s.shadow.min_instances,
                       **common)
        shadow.run()
    return Simulation(demand=demand, settings=s, fleet=fleet, shadow=shadow,
                      hourly_price=HOURLY_PRICE_USD.get(s.instance_type))


def traffic_zone_of(settings: EndpointSettings) -> str:
    """The curve's clock: the schedule's time zone (the team's local business hours), else UTC."""
    return settings.schedule[0].timezone if settings.schedule else "UTC"


def spike_start(demand: list[float]) -> int:
    base = demand[0]
    return next((m for m, calls in enumerate(demand) if calls > base), 0)


def report(settings: EndpointSettings, sim: Simulation) -> list[tuple[str, str]]:
    start = spike_start(sim.demand)
    ratio = sim.instance_hours / sim.static_instance_hours
    names = ", ".join(f"{p.name} target {p.target:g}" for p in sim.fleet.policies)
    rows = [
        ("policies", names + (", wake-up on no capacity" if settings.scale_to_zero else "")
         + (", wake-up on backlog without capacity" if settings.is_async else "")
         + f", {len(sim.fleet.schedule)} scheduled action(s)"),
        ("peak demand", f"{max(sim.demand):,.0f} calls/min ({sim.capacity_per_instance:,.0f} per instance at most)"),
        ("peak capacity shortfall", f"{sim.peak_shortfall:,.0f} calls/min"),
        ("shortfall minutes", f"{len(sim.shortfall_minutes())} (spike from {start // 60:02d}:{start % 60:02d})"),
        ("lost calls", f"{sim.lost_calls:,.0f}"),
        ("peak instances", f"{max(sim.in_service)} (max_instances {settings.max_instances})"),
        ("instance-hours", f"{sim.instance_hours:.1f} vs {sim.static_instance_hours:.1f} for a static fleet of "
                           f"{sim.static_fleet + sim.static_shadow_fleet} at the same target ({100 * ratio:.0f} %)"),
    ]
    if sim.fleet.queued:
        rows[2:5] = [
            ("peak queue", f"{max(sim.fleet.backlog):,.0f} requests (async: they wait, none is lost)"),
            ("longest wait", f"{max(sim.fleet.oldest_wait)} min; {sim.minutes_waiting()} minutes with a request "
                             f"waiting over a minute (spike from {start // 60:02d}:{start % 60:02d})"),
            ("lost calls", "0"),
        ]
    if sim.shadow:
        rows.append(("shadow instance-hours", f"{sim.shadow_instance_hours:.1f} (peak {max(sim.shadow.in_service)})"))
    cost, static_cost = sim.cost(sim.instance_hours), sim.cost(sim.static_instance_hours)
    if cost is not None:
        rows.append(("instance cost per day", f"${cost:,.0f} vs ${static_cost:,.0f} static ({settings.instance_type}, "
                                              "approximate on-demand price)"))
    return rows
