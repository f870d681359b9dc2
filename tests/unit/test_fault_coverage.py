"""The fault-coverage figure counts AWS call sites, and only those (tests/fault_coverage.py)."""

from __future__ import annotations

from tests.fault_coverage import FaultRecorder, call_sites


def test_call_sites_are_aws_operations_on_clients_and_nothing_else():
    sites = call_sites()
    operations = {(file, operation) for (file, _), (_, operation) in sites.items()}
    assert ("lambdas/drift_retrain/retrain.py", "start_pipeline_execution") in operations
    assert ("scripts/doctor.py", "list_service_quotas") in operations  # the doctor's call(client, "<op>")
    assert ("pipelines/modelbuild/code/drift.py", "list_objects_v2") in operations  # a paginator
    assert ("pipelines/deploy/tasks.py", "put_events") in operations  # the catalog entry (EventBridge)
    # drift.py's HOUR_FOLDER.search(...) is a regex, not SageMaker's Search
    assert ("pipelines/modelbuild/code/drift.py", "search") not in operations


def test_a_fault_counts_for_the_statement_that_made_the_call():
    sites = {("lambdas/x.py", 10): (12, "publish"), ("lambdas/x.py", 20): (20, "get_object")}
    recorder = FaultRecorder()
    recorder.faults = {("lambdas/x.py", 11)}
    assert recorder.covered(sites) == {("lambdas/x.py", 10)}
