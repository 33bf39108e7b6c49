"""The whole federation file's model, assembled from config/ and the registered site kinds
(the one place that knows both), and the only way to read a file: `load_federation(path)`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Field, ValidationError, field_validator, model_validator

from flarectl.config.errors import ConfigError, problems_of
from flarectl.config.federation import FederationSettings
from flarectl.config.fields import check_site_name
from flarectl.config.loading import read_federation_file
from flarectl.config.sites import ClientSite
from flarectl.sites.registry import KINDS

SITE_MODELS = {name: kind.model for name, kind in KINDS.items()}

if TYPE_CHECKING:
    AnySite = ClientSite
else:
    AnySite = Annotated[Union[tuple(SITE_MODELS.values())], Field(discriminator="kind")]  # noqa: UP007


class Federation(FederationSettings):
    sites: list[AnySite] = []

    @field_validator("sites", mode="before")
    @classmethod
    def _sites(cls, value: Any) -> Any:
        """Checks across the list (unique names, known kinds) before each site is validated by its kind."""
        if not isinstance(value, list):
            return value
        problems: list[str] = []
        seen: set[str] = set()
        for index, site in enumerate(value):
            if not isinstance(site, dict):
                continue
            name = site.get("name")
            if isinstance(name, str):
                try:
                    check_site_name(name)
                except ValueError as error:
                    problems.append(f"sites[{index}].name: {error}")
                if name.lower() in seen:
                    problems.append(f"sites[{index}].name: {name!r} is used twice; site names must be unique")
                seen.add(name.lower())
            kind = site.get("kind")
            if kind not in KINDS:
                problems.append(f"sites[{index}].kind: {kind!r} is not a known site kind (known: {', '.join(sorted(KINDS))})")
        if problems:
            raise ValueError("\n".join(problems))
        return value

    @model_validator(mode="after")
    def _kind_checks(self) -> Federation:
        """Each kind's rules that need the rest of the file."""
        problems = []
        for index, site in enumerate(self.sites):
            check = KINDS[site.kind].check
            problems += [f"sites[{index}].{problem}" for problem in (check(site, self) if check else [])]
        if problems:
            raise ValueError("\n".join(problems))
        return self


def load_federation(path: str | Path) -> Federation:
    """Read and validate a federation file; raise ConfigError with every problem found."""
    path = Path(path)
    label = path.name
    data = read_federation_file(path)
    if not isinstance(data, dict):
        raise ConfigError([f"{label}: the file must be a YAML mapping with at least 'project' and 'project_admin_email'"])
    # Top-level x-... keys hold YAML anchors for merge keys (`x-gpu-site: &gpu-site`, then
    # `<<: *gpu-site` in a site), as in Compose files; they are not settings.
    data = {key: value for key, value in data.items() if not (isinstance(key, str) and key.startswith("x-"))}
    try:
        federation = Federation.model_validate(data)
    except ValidationError as error:
        raise ConfigError(problems_of(error, label, Federation, SITE_MODELS)) from None
    federation._source_file = path.name
    return federation
