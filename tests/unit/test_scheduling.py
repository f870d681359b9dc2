"""make test's scheduling of the suite over two workers (tests/scheduling.py)."""

from __future__ import annotations

from tests.scheduling import SYNTHESIZED, misplaced, work_unit


def test_infrastructure_is_one_unit_a_files_tests_sharing_a_module_fixture_another_and_every_other_test_its_own(
        tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_shared.py").write_text(
        'import pytest\n\n@pytest.fixture(scope="module")\ndef trained(tmp_path_factory):\n    ...\n\n'
        "@pytest.fixture\ndef scored(trained, tmp_path):\n    ...\n\n"
        "def test_c(trained):\n    ...\n\ndef test_e(scored):\n    ...\n\n"
        "class TestGroup:\n    def test_f(self, trained):\n        ...\n\n"
        "def test_alone(tmp_path):\n    ...\n\n"
        '@pytest.fixture(scope="module", name="renamed")\ndef _renamed():\n    ...\n\n'
        "@pytest.fixture\ndef tmp_path(tmp_path):\n    return tmp_path\n\n"
        "def test_h(renamed):\n    ...\n")
    (tmp_path / "tests" / "test_autouse.py").write_text(
        'from pytest import fixture\n\n@fixture(scope="module", autouse=True)\ndef started():\n    ...\n\n'
        "def test_g():\n    ...\n")
    (tmp_path / "tests" / "test_alone.py").write_text("@pytest.fixture\ndef aws():\n    ...\n\n"
                                                      "def test_d(aws):\n    ...\n")
    assert work_unit("tests/infrastructure/build/test_model_build.py::test_a", tmp_path) == SYNTHESIZED
    assert work_unit("tests/infrastructure/test_security_and_limits.py::test_b[x]", tmp_path) == SYNTHESIZED
    for test in ("test_c", "test_e[1-2]", "TestGroup::test_f", "test_h"):  # directly, via a fixture, in a class,
        # by the fixture's given name
        assert work_unit(f"tests/test_shared.py::{test}", tmp_path) == "tests/test_shared.py"
    assert work_unit("tests/test_shared.py::test_alone", tmp_path) == "tests/test_shared.py::test_alone"
    assert work_unit("tests/test_autouse.py::test_g", tmp_path) == "tests/test_autouse.py"
    assert work_unit("tests/test_alone.py::test_d[ssm-get_parameter]", tmp_path) == (
        "tests/test_alone.py::test_d[ssm-get_parameter]")


def test_the_suites_own_files_with_shared_fixtures_are_units():
    seed = "tests/pipelines/test_seed_scripts.py"
    assert work_unit(f"{seed}::test_evaluate_names_a_missing_model") == seed  # uses the local run
    assert work_unit(f"{seed}::test_the_seeded_repository_runs_its_own_tests") == (
        f"{seed}::test_the_seeded_repository_runs_its_own_tests")
    assert work_unit("tests/pipelines/test_pipeline_definition.py::test_steps_types_and_order") == (
        "tests/pipelines/test_pipeline_definition.py")
    assert work_unit("tests/lambdas/test_approval_hook.py::test_z") == "tests/lambdas/test_approval_hook.py::test_z"


def test_a_synthesizing_test_outside_the_infrastructure_folder_is_refused():
    assert misplaced("tests/unit/test_doctor.py::test_x", ["tmp_path", "example_factory"]) == (
        "tests/unit/test_doctor.py::test_x uses example_factory: tests that synthesize belong under tests/infrastructure/")
    assert misplaced("tests/infrastructure/cost/test_cost.py::test_y", ["example_factory", "fraud"]) is None
    assert misplaced("tests/unit/test_doctor.py::test_z", ["tmp_path"]) is None
