"""Cut-and-paste client code for one stage of a model, written by the deploy when it records the stage:
Python and curl against the stage's consumer API (SigV4 or a bearer token), or against the SageMaker runtime
when the stage has no API. Every snippet uses the real URL (or endpoint), the content type the API takes and
two real feature rows of the model's data.

The SigV4 forms follow AWS's documents: botocore's `SigV4Auth` signs for the service `execute-api` (API Gateway
developer guide, "Control access to a REST API with IAM permissions"), curl's `--aws-sigv4
"aws:amz:<region>:execute-api"` (curl 7.75.0 and later) signs the same way; the runtime's signing name is
`sagemaker` (botocore sagemaker-runtime service model, signingName).
"""

from __future__ import annotations

import shlex
from typing import Any

PYTHON_SIGV4 = '''"""Call {model} ({stage}) of the {team} team: POST {content_type} rows, SigV4-signed ({auth_note})."""
import urllib.request

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

URL = {url!r}
REGION = {region!r}
BODY = {body!r}


def invoke(body: str = BODY) -> {returns}:
    request = AWSRequest(method="POST", url=URL, data=body.encode(),
                         headers={{"Content-Type": {content_type!r}, "Accept": {accept!r}}})
    SigV4Auth(boto3.Session().get_credentials(), "execute-api", REGION).add_auth(request)
    prepared = urllib.request.Request(URL, data=request.body, headers=dict(request.headers), method="POST")
    with urllib.request.urlopen(prepared, timeout=60) as response:
{python_answer}


if __name__ == "__main__":
    print(invoke())
'''

PYTHON_BEARER = '''"""Call {model} ({stage}) of the {team} team: POST {content_type} rows with a token of {issuer}."""
import os
import urllib.request

URL = {url!r}
BODY = {body!r}


def invoke(body: str = BODY, token: str | None = None) -> {returns}:
    token = token or os.environ["TOKEN"]  # an access token for the audience {audience}
    prepared = urllib.request.Request(URL, data=body.encode(), method="POST", headers={{
        "Content-Type": {content_type!r}, "Accept": {accept!r}, "Authorization": f"Bearer {{token}}"}})
    with urllib.request.urlopen(prepared, timeout=60) as response:
{python_answer}


if __name__ == "__main__":
    print(invoke())
'''

PYTHON_RUNTIME = '''"""Call {model} ({stage}) of the {team} team through the SageMaker runtime (no API on this stage): needs
sagemaker:{action} on {endpoint}."""
import boto3

ENDPOINT = {endpoint!r}
BODY = {body!r}


def invoke(body: str = BODY) -> str:
    runtime = boto3.client("sagemaker-runtime", region_name={region!r})
    response = runtime.invoke_endpoint(EndpointName=ENDPOINT, ContentType={content_type!r}, Accept={accept!r},
                                       Body=body.encode(){component})
    return response["Body"].read().decode()


if __name__ == "__main__":
    print(invoke())
'''

PYTHON_RUNTIME_ASYNC = '''"""Call {model} ({stage}) of the {team} team asynchronously through the SageMaker runtime (no API on
this stage): needs s3:PutObject on the input prefix, sagemaker:InvokeEndpointAsync on {endpoint} and s3:GetObject
on its answers."""
import uuid

import boto3

ENDPOINT = {endpoint!r}
INPUT = {input_prefix!r}
BODY = {body!r}


def invoke(body: str = BODY) -> str:
    bucket, _, prefix = INPUT.removeprefix("s3://").partition("/")
    key = f"{{prefix}}/{{uuid.uuid4().hex}}.csv"
    boto3.client("s3", region_name={region!r}).put_object(Bucket=bucket, Key=key, Body=body.encode())
    runtime = boto3.client("sagemaker-runtime", region_name={region!r})
    response = runtime.invoke_endpoint_async(EndpointName=ENDPOINT, InputLocation=f"s3://{{bucket}}/{{key}}",
                                             ContentType={content_type!r}, Accept={accept!r})
    return response["OutputLocation"]  # the answer is written there when it is ready


if __name__ == "__main__":
    print(invoke())
'''

REALTIME_ANSWER = "        return response.read().decode()"
# async: 202 and, in Location, where the answer will be (X-Amzn-SageMaker-OutputLocation)
ASYNC_ANSWER = "        return response.headers[\"Location\"]  # s3://... of the answer, written when it is ready"


def snippets(*, team: str, model: str, stage: str, region: str, endpoint: dict[str, Any], url: str | None,
             body: str, async_input: str | None = None) -> dict[str, str]:
    """{"client.py": ..., "curl.sh": ...} for the stage's settings (the manifest's `endpoint`)."""
    mode = endpoint.get("mode", "realtime")
    api = endpoint.get("api")
    name = f"mf-{team}-{model}-{stage}"
    if mode == "batch":
        return {"README.txt": (f"{team}/{model} ({stage}) scores in batch: it reads "
                               f"{endpoint['batch']['input_s3_uri']} on {endpoint['batch']['schedule']} and writes "
                               f"{endpoint['batch']['output_s3_uri']}/<run>/.\n")}
    content_type = (api or {}).get("content_types", ["text/csv"])[0]
    accept = "text/csv" if content_type == "text/csv" else "application/json"
    values = {"team": team, "model": model, "stage": stage, "region": region, "url": url, "body": body,
              "content_type": content_type, "accept": accept,
              "returns": "str", "python_answer": ASYNC_ANSWER if mode == "async" else REALTIME_ANSWER}
    if not api or url is None:
        if mode == "async":
            return {"client.py": PYTHON_RUNTIME_ASYNC.format(**values, endpoint=name, input_prefix=async_input)}
        component = (f", InferenceComponentName={name + '-ic'!r}"
                     if endpoint.get("min_instances", 1) == 0 else "")
        return {"client.py": PYTHON_RUNTIME.format(**values, endpoint=name, component=component,
                                                   action="InvokeEndpoint")}
    if api.get("auth") == "jwt":
        python = PYTHON_BEARER.format(**values, issuer=api["issuer"], audience=", ".join(api["audience"]))
        auth = ['-H "Authorization: Bearer $TOKEN"']
    else:
        python = PYTHON_SIGV4.format(**values, auth_note=f"attach the policy mf-{team}-{model}-{stage}-invoke")
        auth = [f'--aws-sigv4 "aws:amz:{region}:execute-api"',
                '--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"',
                '-H "x-amz-security-token: $AWS_SESSION_TOKEN"']
    headers = [f"-H {shlex.quote('Content-Type: ' + content_type)}", f"-H {shlex.quote('Accept: ' + accept)}"]
    answer = ("# 202: the Location header names the answer's S3 object (async)\n" if mode == "async" else "")
    needs = ("curl 7.75.0 or later for --aws-sigv4; AWS_SESSION_TOKEN with temporary credentials"
             if api.get("auth") != "jwt" else f"TOKEN: an access token of {api['issuer']}")
    curl = ("#!/bin/sh\n"
            f"# Call {team}/{model} ({stage}); {needs}\n{answer}"
            f"printf '%s' {shlex.quote(body)} > /tmp/{model}-request.csv\n"
            "curl --fail-with-body -sS -D - -X POST \\\n  "
            + " \\\n  ".join([*auth, *headers, f"--data-binary @/tmp/{model}-request.csv", shlex.quote(url)]) + "\n")
    return {"client.py": python, "curl.sh": curl}
