"""The one table of SageMaker instance facts the factory relies on: which instance types each API accepts,
which families carry NVIDIA GPUs (and how many per size), and which have local NVMe instance storage.

- Accepted types: the enums `TrainingInstanceType`, `ProcessingInstanceType`, `ProductionVariantInstanceType`
  and `TransformInstanceType` of the pinned botocore's SageMaker service model: a type outside them is
  rejected by the API, so the config refuses it first.
- GPUs: AWS's EC2 accelerated-computing instance pages (GPU count per size). GPUUtilization and
  GPUMemoryUtilization in /aws/sagemaker/Endpoints range over 0-100 x this number.
- Local NVMe: "Certain Nitro-based instances include local storage ... You can't request a VolumeKmsKeyId
  when using an instance type with local storage" (SageMaker API reference, ResourceConfig.VolumeKmsKeyId,
  ProcessingClusterConfig, TransformResources, CreateEndpointConfig.KmsKeyId); the families are those whose
  EC2 instance pages list NVMe SSD instance store. Their disks are encrypted by the hardware.
"""

from __future__ import annotations

import re
from functools import cache

INSTANCE_TYPE_PATTERN = re.compile(r"^ml\.([a-z0-9-]+)\.([a-z0-9]+)$")

_SMALL_TO_16X = {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 1}
GPU_COUNT: dict[str, dict[str, int]] = {
    "g4dn": {**_SMALL_TO_16X, "12xlarge": 4},
    "g5": {**_SMALL_TO_16X, "12xlarge": 4, "24xlarge": 4, "48xlarge": 8},
    "g6": {**_SMALL_TO_16X, "12xlarge": 4, "24xlarge": 4, "48xlarge": 8},
    "g6e": {**_SMALL_TO_16X, "12xlarge": 4, "24xlarge": 4, "48xlarge": 8},
    "g7e": {"2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "12xlarge": 2, "24xlarge": 4, "48xlarge": 8},
    "p2": {"xlarge": 1, "8xlarge": 8, "16xlarge": 16},
    "p3": {"2xlarge": 1, "8xlarge": 4, "16xlarge": 8},
    "p3dn": {"24xlarge": 8},
    "p4d": {"24xlarge": 8},
    "p4de": {"24xlarge": 8},
    "p5": {"4xlarge": 1, "48xlarge": 8},
    "p5e": {"48xlarge": 8},
    "p5en": {"48xlarge": 8},
    "p6-b200": {"48xlarge": 8},
    "p6-b300": {"48xlarge": 8},
    "p6e-gb200": {"36xlarge": 4},
}
NVME_FAMILIES = frozenset({
    # GPU
    "g4dn", "g5", "g6", "g6e", "g7e", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "p6-b200", "p6-b300", "p6e-gb200",
    # Trainium and Gaudi accelerators
    "trn1", "trn1n", "trn2", "dl1",
    # CPU families with a "d" (local disk)
    "c5d", "m5d", "r5d", "c6gd", "m6gd", "r6gd", "r7gd",
})
APIS = {
    "training": "TrainingInstanceType",
    "processing": "ProcessingInstanceType",
    "endpoint": "ProductionVariantInstanceType",
    "transform": "TransformInstanceType",
}


def instance_family(instance_type: str) -> str:
    return INSTANCE_TYPE_PATTERN.match(instance_type).group(1)


def gpu_count(instance_type: str) -> int | None:
    match = INSTANCE_TYPE_PATTERN.match(instance_type)
    return GPU_COUNT.get(match.group(1), {}).get(match.group(2))


def has_gpu(instance_type: str) -> bool:
    return instance_family(instance_type) in GPU_COUNT


def accepts_volume_kms_key(instance_type: str) -> bool:
    return instance_family(instance_type) not in NVME_FAMILIES


@cache
def _sagemaker_shapes() -> dict:
    """The shapes of the pinned botocore's SageMaker service model, read from its data file the way botocore's
    loader does (the newest API version directory): importing botocore would add 0.15 s to every synth."""
    import gzip
    import importlib.util
    import json
    from pathlib import Path

    (package,) = importlib.util.find_spec("botocore").submodule_search_locations
    service = Path(package) / "data" / "sagemaker"
    newest = max(version for version in service.iterdir() if version.is_dir())
    return json.loads(gzip.decompress((newest / "service-2.json.gz").read_bytes()))["shapes"]


@cache
def accepted_types(api: str) -> frozenset[str]:
    """The instance types the SageMaker API of `api` (a key of APIS) accepts, from the pinned botocore."""
    return frozenset(_sagemaker_shapes()[APIS[api]]["enum"])


def unsupported_reason(instance_type: str, api: str) -> str | None:
    """None when `api` accepts the type, else the one-line reason."""
    if instance_type in accepted_types(api):
        return None
    family = instance_family(instance_type) if INSTANCE_TYPE_PATTERN.match(instance_type) else ""
    same_family = sorted(t for t in accepted_types(api) if t.split(".")[1] == family)
    hint = f"; {family} sizes it accepts: {', '.join(same_family)}" if same_family else ""
    return f"is not an instance type SageMaker accepts for {api} ({APIS[api]}){hint}"
