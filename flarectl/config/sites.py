"""What every client site has, whatever its kind: a name, its GPUs as registered on the
dashboard, its Python requirements and a startup kit. A kind's own model (in its module under
flarectl/sites/) adds its fields and says, as class data, what its bounds are; the checks and
their messages live here once."""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pydantic import field_validator, model_validator

from flarectl.config.fields import MAX_GPU_MEMORY_GIB, AbsolutePath, GiB, Interpreter, Model, Requirements, SiteName, check_local_path

if TYPE_CHECKING:
    from flarectl.config.federation import FederationSettings


def kit_present(kit: str | None) -> bool:
    """An unzipped client startup kit is at `kit`."""
    return kit is not None and _exists(Path(kit) / "startup" / "fed_client.json")


def _exists(path: Path) -> bool:
    """Path.exists() without the errors it raises for a path the system cannot look up."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


class Site(Model):
    name: SiteName
    kind: str


class ClientSite(Site):
    """The GPUs a site registers on the dashboard (NVFlare schedules jobs against them) and
    what its jobs need installed."""

    # A kind's bounds and words for its own hardware, used by the shared checks below.
    hardware: ClassVar[str] = "a site"  # "{gpus} GPUs: <hardware> has 0 to 8 GPUs"
    gpu_range: ClassVar[tuple[int, int]] = (0, 16)
    largest_gpus: ClassVar[str] = "any GPU has (H100: 80, H200: 141, B200: 180)"
    gpu_memory_required: ClassVar[bool] = False  # > 0 needed (a cloud kind chooses hardware by it)

    kit: str | None = None  # where the startup kit is: each base below says whose path
    gpus: int = 1
    gpu_memory_gib: GiB = 0
    requirements: Requirements = []

    @field_validator("gpus")
    @classmethod
    def _gpus(cls, value: int) -> int:
        low, high = cls.gpu_range
        if not low <= value <= high:
            raise ValueError(f"{value} GPUs: {cls.hardware} has {low} to {high} GPUs, as registered on the dashboard")
        return value

    @field_validator("gpu_memory_gib")
    @classmethod
    def _gpu_memory(cls, value: float) -> float:
        if value < 0 or (cls.gpu_memory_required and value == 0):
            raise ValueError(f"{value:g} GiB per GPU: use the memory of one GPU as nvidia-smi reports it, in GiB (more than 0)")
        if value > MAX_GPU_MEMORY_GIB:
            raise ValueError(f"{value:g} GiB per GPU is more than {cls.largest_gpus}; use the memory of one GPU")
        return value

    def place(self, federation: FederationSettings) -> str:
        """Where the site runs, in a few words (the federation picture); each kind says its own."""
        return self.hardware


class CloudSite(ClientSite):
    """A site on a cloud VM this project creates: the startup kit is a folder on the machine
    that runs synth or deploy, and travels to the VM with the deploy."""

    @field_validator("kit")
    @classmethod
    def _kit(cls, value: str | None) -> str | None:
        if value is not None:
            check_local_path(value, "kit folder's")
        if value is not None and _exists(Path(value)) and not kit_present(value):
            raise ValueError(
                f"{value!r} is not an unzipped client startup kit (no startup/fed_client.json); unzip the kit from the dashboard there"
            )
        return value

    @property
    def kit_present(self) -> bool:
        return kit_present(self.kit)


class FolderSite(ClientSite):
    """A site that runs the shared client runtime from a folder of emitted files that its Org
    Admin copies to the machine: where the kit and the files live there."""

    kit: AbsolutePath
    workdir: AbsolutePath
    venv: AbsolutePath | None = None
    python: Interpreter = "python3"

    @model_validator(mode="after")
    def _paths_apart(self) -> FolderSite:
        """The runtime copies the kit into <workdir>/kit and keeps its venv beside it: a kit that
        is the workdir, the installed kit or a folder holding the workdir would be copied into
        itself or overwritten."""
        kit, workdir = posixpath.normpath(self.kit), posixpath.normpath(self.workdir)
        installed = posixpath.join(workdir, "kit")
        if kit == workdir or _within(kit, installed) or _within(workdir, kit):
            raise ValueError(
                f"kit {self.kit} and workdir {self.workdir} overlap; the runtime installs the kit into {installed}: "
                "keep the downloaded kit in a folder of its own, outside the workdir (e.g. <workdir>-kit)"
            )
        venv = posixpath.normpath(self.venv) if self.venv else None
        if venv and (venv == workdir or _within(venv, kit) or _within(kit, venv) or _within(venv, installed)):
            raise ValueError(f"venv {self.venv} overlaps the kit or the workdir; give it a folder of its own")
        return self


def _within(path: str, folder: str) -> bool:
    """`path` is `folder` or inside it."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")
