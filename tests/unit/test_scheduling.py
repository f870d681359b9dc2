"""make test's scheduling of the suite over two workers (tests/scheduling.py)."""

from __future__ import annotations

from tests.scheduling import SYNTHESIZED, misplaced, work_unit


def test_every_infrastructure_test_is_one_unit_and_the_others_go_by_file():
    assert work_unit("tests/infrastructure/build/test_model_build.py::test_a") == SYNTHESIZED
    assert work_unit("tests/infrastructure/test_security_and_limits.py::test_b[many_team_factory]") == SYNTHESIZED
    assert work_unit("tests/pipelines/test_seed_scripts.py::test_c") == "tests/pipelines/test_seed_scripts.py"
    assert work_unit("tests/lambdas/test_approval_hook.py::test_d[ssm-get_parameter]") == (
        "tests/lambdas/test_approval_hook.py")


def test_a_synthesizing_test_outside_the_infrastructure_folder_is_refused():
    assert misplaced("tests/unit/test_doctor.py::test_x", ["tmp_path", "example_factory"]) == (
        "tests/unit/test_doctor.py::test_x uses example_factory: tests that synthesize belong under tests/infrastructure/")
    assert misplaced("tests/infrastructure/cost/test_cost.py::test_y", ["example_factory", "fraud"]) is None
    assert misplaced("tests/unit/test_doctor.py::test_z", ["tmp_path"]) is None
