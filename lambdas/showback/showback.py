"""Showback: what each of a team's models cost in a month, from Cost Explorer grouped by the
`model-factory:model` cost-allocation tag, as a table for the approvers and a figure per model for the
dashboard. No AWS call here except through the clients passed in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

TAG_TEAM = "model-factory:team"
TAG_MODEL = "model-factory:model"
UNTAGGED = "(no model tag)"
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class ShowbackError(ValueError):
    """A request the showback refuses, in one line."""


@dataclass(frozen=True)
class Period:
    start: date  # inclusive
    end: date    # exclusive (Cost Explorer's convention)
    label: str

    @classmethod
    def month(cls, text: str, today: date) -> Period:
        match = MONTH.match(text)
        if not match:
            raise ShowbackError(f"month must be YYYY-MM (got {text!r})")
        start = date(int(match[1]), int(match[2]), 1)
        if start > today:
            raise ShowbackError(f"month {text} has not started yet")
        end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        if end > today:  # the running month: up to today
            return cls(start, today, f"{text} (to {today.isoformat()})") if today > start else cls(
                start, date.fromordinal(start.toordinal() + 1), f"{text} (first day)")
        return cls(start, end, text)

    @classmethod
    def previous_month(cls, today: date) -> Period:
        first = today.replace(day=1)
        last_month = date.fromordinal(first.toordinal() - 1)
        return cls.month(f"{last_month.year:04d}-{last_month.month:02d}", today)


def costs_by_model(ce, *, team: str, period: Period) -> dict[str, Decimal]:
    """Unblended cost per model tag value for the team's tagged resources (all pages)."""
    request = {
        "TimePeriod": {"Start": period.start.isoformat(), "End": period.end.isoformat()},
        "Granularity": "MONTHLY",
        "Metrics": ["UnblendedCost"],
        "Filter": {"Tags": {"Key": TAG_TEAM, "Values": [team], "MatchOptions": ["EQUALS"]}},
        "GroupBy": [{"Type": "TAG", "Key": TAG_MODEL}],
    }
    totals: dict[str, Decimal] = {}
    while True:
        response = ce.get_cost_and_usage(**request)
        for result in response.get("ResultsByTime", []):
            for group in result.get("Groups", []):
                tag = group["Keys"][0]
                model = tag.split("$", 1)[1] if "$" in tag else tag
                amount = Decimal(group["Metrics"]["UnblendedCost"]["Amount"])
                totals[model or UNTAGGED] = totals.get(model or UNTAGGED, Decimal(0)) + amount
        token = response.get("NextPageToken")
        if not token:
            return totals
        request["NextPageToken"] = token


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def cost_table(*, team: str, period: Period, costs: dict[str, Decimal], models: list[str]) -> str:
    """Every model of the team (zero when it cost nothing), then untagged cost, largest first."""
    rows = {model: costs.get(model, Decimal(0)) for model in models}
    rows.update({k: v for k, v in costs.items() if k not in rows})
    width = max([len("model"), *map(len, rows)])
    total = sum(rows.values(), Decimal(0))
    lines = [f"Model Factory {team}: cost per model, {period.label} (USD, unblended, Cost Explorer)", "",
             f"{'model'.ljust(width)}  {'USD':>12}  share"]
    for model, amount in sorted(rows.items(), key=lambda item: (-item[1], item[0])):
        share = f"{100 * amount / total:5.1f} %" if total else "    - "
        lines.append(f"{model.ljust(width)}  {cents(amount):>12,}  {share}")
    lines += [f"{'total'.ljust(width)}  {cents(total):>12,}", "",
              f"Only cost tagged {TAG_TEAM}={team} is counted; activate {TAG_TEAM} and {TAG_MODEL} as "
              "cost allocation tags in the Billing console."]
    return "\n".join(lines)
