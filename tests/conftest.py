from __future__ import annotations

import functools
import os

import botocore.loaders
import botocore.session
import pytest

# Offline by construction: fake credentials and a region for moto and for the SageMaker SDK (which
# creates clients at import), no instance metadata, no real account reachable.
os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "SAGEMAKER_VALIDATE_ROLE": "false",
})
os.environ.pop("AWS_PROFILE", None)
# The pinned Node 22 first, as `make test` does, so that a bare `pytest` runs jsii on the same Node.
_NODE_BIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "node_modules", ".bin")
if os.path.isdir(_NODE_BIN) and not os.environ.get("PATH", "").startswith(_NODE_BIN):
    os.environ["PATH"] = _NODE_BIN + os.pathsep + os.environ.get("PATH", "")

# moto gives every test a new default boto3 session, and a new session re-reads and re-parses botocore's JSON
# service models (SageMaker's is megabytes): about a third of a moto test's time. One loader per process, as
# one Lambda execution environment has; the models it returns are the same files botocore ships.
botocore.session.create_loader = functools.lru_cache(maxsize=None)(botocore.loaders.create_loader)

from scripts.generate_config import generate_config
from stacks.config.factory import FactoryConfig, load_config, parse_config
from tests.helpers import CONNECTION_ARN
from tests.scheduling import SharedFixtureScheduling, misplaced
from tests.synth import ROOT, SynthesizedFactory, synthesize

pytest_plugins = ["tests.fault_coverage"]

EXAMPLE_CONFIG = ROOT / "config" / "factory.yaml"
MANY_TEAMS = 5


@pytest.fixture(scope="session")
def example_config() -> FactoryConfig:
    return load_config(EXAMPLE_CONFIG)


@pytest.fixture(scope="session")
def example_factory(example_config, tmp_path_factory) -> SynthesizedFactory:
    return synthesize(example_config, tmp_path_factory.mktemp("example-factory"))


@pytest.fixture(scope="session")
def many_team_factory(tmp_path_factory) -> SynthesizedFactory:
    data = generate_config(MANY_TEAMS, 2)
    data["teams"][1]["account"] = data["teams"][0]["account"]  # two teams sharing one account
    data["teams"][2]["models"][0]["source"] = {  # a model built from GitHub through CodeConnections
        "provider": "codeconnections",
        "connection_arn": CONNECTION_ARN,
        "repository": "acme/churn-model",
        "branch": "release",
    }
    data["teams"][1]["models"][0]["promotion"] = {"mode": "auto", "min_improvement": 0.002, "prod_gate": "auto"}
    data["teams"][2]["data_buckets"] = ["acme-feature-store"]  # training data outside the team bucket
    data["teams"][2]["models"][0]["training"]["data_s3_uri"] = "s3://acme-feature-store/churn/daily"
    data["teams"][1]["budget_action"] = "automatic"
    data["teams"][2]["budget_action"] = "off"
    data["teams"][4]["accounts"] = {"staging": "300000000004", "prod": "400000000004"}  # separate accounts
    # Model Monitor with Clarify in the target accounts; the other model there keeps the factory engine
    data["teams"][4]["models"][0]["monitoring"] = {"engine": "model_monitor", "explainability": True}
    data["teams"][3]["models"][0]["monitoring"] = {  # SageMaker Clarify bias and explainability monitors
        "engine": "model_monitor", "ground_truth_s3_uri": "s3://team-003-ground-truth/model-00", "bias": True, "label": "is_fraud",
        "facet": {"name": "foreign", "values": [1]}, "explainability": True,
    }
    config = parse_config(data, source="generated")
    return synthesize(config, tmp_path_factory.mktemp("many-team-factory"))


def pytest_xdist_make_scheduler(config, log):
    """`pytest -n 2` (make test): the synthesizing tests share one worker (tests/scheduling.py)."""
    return SharedFixtureScheduling(config, log)


def pytest_collection_modifyitems(items):
    problems = [p for p in (misplaced(item.nodeid, item.fixturenames) for item in items) if p]
    if problems:
        raise pytest.UsageError(problems[0])
