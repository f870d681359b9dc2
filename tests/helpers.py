"""Helpers the test modules share (imported from here, never from another test module)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from aws_cdk.assertions import Template
from cfnlint.api import ManualArgs, lint_by_config

# CDK's CodePipeline and Lambda constructs write an explicit DependsOn on their role (and its policy) next to
# the GetAtt of the role; cfn-lint flags the redundancy (W3005). It is harmless and not ours to remove.
ACCEPTED_WARNINGS = {"W3005"}
CONNECTION_ARN = "arn:aws:codeconnections:us-west-2:100000000002:connection/0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"


class Context:
    """The Lambda context object a handler receives (the attributes Powertools reads)."""

    memory_limit_in_mb = 256
    aws_request_id = "request-1"

    def __init__(self, function_name: str = "mf-fraud-approval-hook", region: str = "eu-west-1",
                 account: str = "123456789012") -> None:
        self.function_name = function_name
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def only(template: Template, resource_type: str, props: dict | None = None) -> tuple[str, dict]:
    """The one resource of `resource_type` (with these properties): (logical id, resource)."""
    found = template.find_resources(resource_type, {"Properties": props} if props else None)
    assert len(found) == 1, f"expected one {resource_type} matching {props}, found {list(found)}"
    return next(iter(found.items()))


def templates_by_region(outdir: Path) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for manifest in outdir.glob("assembly-*/manifest.json"):
        for artifact in json.loads(manifest.read_text())["artifacts"].values():
            if artifact["type"] == "aws:cloudformation:stack":
                region = artifact["environment"].rsplit("/", 1)[1]
                grouped[region].append(str(manifest.parent / artifact["properties"]["templateFile"]))
    return grouped


def lint_region(region: str, templates: list[str]) -> list[str]:
    matches = lint_by_config(ManualArgs(templates=templates, regions=[region]))
    return [f"{Path(m.filename).name}: {m.rule.id} {m.message}" for m in matches
            if m.rule.id[0] == "E" or (m.rule.id[0] == "W" and m.rule.id not in ACCEPTED_WARNINGS)]


# The faults every AWS call site is tried with, as the services answer them: throttling once retries are
# spent, access denied and a server error are the AWS API references' "Common Errors" (ThrottlingException
# 400, AccessDeniedException 400, InternalFailure 500); a missing resource is ResourceNotFoundException 400
# (e.g. DynamoDB API reference, "Errors"; services with their own not-found code get this one too, which
# the code must handle like any other error).
FAULTS = (("ThrottlingException", 400), ("AccessDeniedException", 400), ("ResourceNotFoundException", 400),
          ("InternalFailure", 500))


def inject_fault(client, operation: str, code: str, status: int = 400, times: int = 1, after: int = 0) -> list[dict]:
    """After `after` calls that go through, the next `times` calls of `operation` (a client method name) on this
    client answer the AWS error `code`,
    the way botocore's Stubber answers (a before-call response, so the client raises its modelled exception
    and the error passes through the client like a real one); later calls go through (moto or AWS).
    Returns the parameters each faulted call was made with."""
    from botocore.awsrequest import AWSResponse

    api_name = client.meta.method_to_api_mapping[operation]
    service = client.meta.service_model.service_id.hyphenize()
    calls: list[dict] = []
    passed = [0]

    def answer(params, **_):
        if passed[0] < after:
            passed[0] += 1
            return None
        if len(calls) >= times:
            return None
        calls.append(params)
        return (AWSResponse("https://injected.invalid", status, {}, None),
                {"Error": {"Code": code, "Message": f"injected {code}"},
                 "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "injected"}})

    client.meta.events.register(f"before-call.{service}.{api_name}", answer)
    return calls
