from __future__ import annotations

import pytest

from scripts.generate_config import generate_config
from stacks.config import FactoryConfig, load_config, parse_config
from tests.synth import ROOT, SynthesizedFactory, synthesize

EXAMPLE_CONFIG = ROOT / "config" / "factory.yaml"
MANY_TEAMS = 12


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
    config = parse_config(data, source="generated")
    return synthesize(config, tmp_path_factory.mktemp("many-team-factory"))
