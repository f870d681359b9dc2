"""The one instance table: every family and size in it is an instance type SageMaker's API accepts
(the pinned botocore's service model), and the NVMe and GPU facts the build and serving rely on."""

from __future__ import annotations

import pytest

from stacks.config import instances


def every_accepted_type() -> set[str]:
    return set().union(*(instances.accepted_types(api) for api in instances.APIS))


@pytest.mark.parametrize("api", sorted(instances.APIS))
def test_the_accepted_types_are_botocores_own_reading_of_its_sagemaker_model(api):
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    assert instances.accepted_types(api) == frozenset(model.shape_for(instances.APIS[api]).enum)


def test_every_gpu_type_in_the_table_exists_in_the_sagemaker_api():
    accepted = every_accepted_type()
    listed = {f"ml.{family}.{size}" for family, sizes in instances.GPU_COUNT.items() for size in sizes}
    assert sorted(listed - accepted) == []


def test_every_nvme_family_exists_in_the_sagemaker_api():
    families = {t.split(".")[1] for t in every_accepted_type()}
    assert sorted(instances.NVME_FAMILIES - families) == []


@pytest.mark.parametrize(("instance_type", "gpus", "volume_key"), [
    ("ml.g5.xlarge", 1, False), ("ml.g5.12xlarge", 4, False), ("ml.g6e.48xlarge", 8, False),
    ("ml.p5.48xlarge", 8, False), ("ml.p3.2xlarge", 1, True),  # p3: GPUs on EBS-only storage
    ("ml.m5.xlarge", None, True), ("ml.m5d.xlarge", None, False), ("ml.inf2.xlarge", None, True),
    ("ml.trn1.32xlarge", None, False),
])
def test_gpu_count_and_volume_key(instance_type, gpus, volume_key):
    assert instances.gpu_count(instance_type) == gpus
    assert instances.accepts_volume_kms_key(instance_type) is volume_key


def test_the_api_decides_which_types_each_job_accepts():
    assert instances.unsupported_reason("ml.g5.xlarge", "training") is None
    assert instances.unsupported_reason("ml.inf2.xlarge", "endpoint") is None
    assert instances.unsupported_reason("ml.inf2.xlarge", "training") == (
        "is not an instance type SageMaker accepts for training (TrainingInstanceType)")
