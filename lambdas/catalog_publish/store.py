"""The catalog's decision on one published entry: who may publish it, whether it is well formed, and that an
older entry never replaces a newer one. No AWS call here except through the client passed in."""

from __future__ import annotations

import json
from dataclasses import dataclass

from entry import CatalogEntry, parse_entry

SOURCE = "model-factory.catalog"
DETAIL_TYPE = "Model Catalog Entry"


@dataclass(frozen=True)
class Outcome:
    action: str  # stored | refused | stale
    reason: str = ""

    def as_dict(self) -> dict:
        return {"action": self.action, "reason": self.reason}


def decide(*, account: str, detail: object, owners: dict[str, str]) -> CatalogEntry:
    """The entry, if the account that sent the event (EventBridge sets `account`, the sender cannot) is the
    factory account of the entry's team; ValueError with one line otherwise."""
    entry = parse_entry(detail)
    owner = owners.get(entry.team)
    if owner is None:
        raise ValueError(f"team: {entry.team} is not a team of this factory")
    if account != owner:
        raise ValueError(f"team: {entry.team} belongs to account {owner}, not to the sender {account}")
    return entry


def store(dynamodb, *, table: str, entry: CatalogEntry) -> Outcome:
    """Write the entry unless a newer one of the same team, model and stage is there already."""
    try:
        dynamodb.put_item(
            TableName=table,
            Item={"team": {"S": entry.team}, "key": {"S": entry.key}, "recorded_at": {"S": entry.recorded_utc},
                  "entry": {"S": json.dumps(entry.model_dump(mode="json"), sort_keys=True)}},
            ConditionExpression="attribute_not_exists(#k) OR recorded_at <= :at",
            ExpressionAttributeNames={"#k": "key"},
            ExpressionAttributeValues={":at": {"S": entry.recorded_utc}},
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return Outcome("stale", f"a newer entry of {entry.team}/{entry.key} is stored")
    return Outcome("stored")
