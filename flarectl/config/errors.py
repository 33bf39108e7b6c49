"""Config errors: one human line per problem ("federation.yaml: hub.fl_port: ..."), never a
traceback. Turns pydantic's validation errors into those lines."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError


class ConfigError(Exception):
    """A federation file that cannot be used; `problems` holds one message per problem."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def _is_kind_tag(loc: tuple[Any, ...], index: int, kinds: Mapping[str, type[BaseModel]]) -> bool:
    """pydantic puts a site's kind after its list index: ('sites', 0, 'aws', 'gpus')."""
    return index > 0 and isinstance(loc[index - 1], int) and loc[index] in kinds


def location(loc: tuple[Any, ...], kinds: Mapping[str, type[BaseModel]]) -> str:
    path = ""
    for index, part in enumerate(loc):
        if isinstance(part, int):
            path += f"[{part}]"
        elif _is_kind_tag(loc, index, kinds) or str(part).startswith(("function-", "tagged-union")):
            continue
        else:
            path += ("." if path else "") + str(part)
    return path


def allowed_keys(root: type[BaseModel], loc: tuple[Any, ...], kinds: Mapping[str, type[BaseModel]]) -> list[str]:
    """Field names of the model that owns the unknown key at `loc`."""
    model: Any = root
    for index, part in enumerate(loc[:-1]):
        if isinstance(part, int):
            continue
        if _is_kind_tag(loc, index, kinds):
            model = kinds[part]
            continue
        field = model.model_fields.get(part) if model is not None else None
        if field is None:
            return []
        annotation = field.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        # None for a list of sites: the kind that follows the index names the model.
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
    return list(model.model_fields) if model is not None else []


def _messages(error: Any, root: type[BaseModel], kinds: Mapping[str, type[BaseModel]]) -> list[tuple[str, str]]:
    loc = tuple(error["loc"])
    kind = error["type"]
    where = location(loc, kinds)
    if kind == "extra_forbidden":
        allowed = allowed_keys(root, loc, kinds)
        return [(where, "unknown key" + (f"; allowed keys: {', '.join(allowed)}" if allowed else ""))]
    if kind == "missing":
        return [(where, "is required")]
    if kind == "value_error":
        text = str(error["ctx"]["error"]) if "ctx" in error else error["msg"]
        # Checks across the site list, or across governance and the sites, name each problem's
        # own path ("sites[1].name: ...", "governance.sites.site-1.custom_code: ...").
        if text.startswith(("sites[", "governance.")):
            return [(line.split(": ", 1)[0], line.split(": ", 1)[1]) for line in text.splitlines()]
        return [(where, text)]
    if kind == "literal_error":
        return [(where, f"{_short(error['input'])} is not allowed; use {error['ctx']['expected']}")]
    return [(where, f"{_short(error['input'])}: {error['msg'][0].lower()}{error['msg'][1:]}")]


def _short(value: Any) -> str:
    """A value as the file had it, cut short: a message names it, it does not reprint it."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def problems_of(error: ValidationError, label: str, root: type[BaseModel], kinds: Mapping[str, type[BaseModel]]) -> list[str]:
    """One `label: where: what` line per problem pydantic found."""
    lines = []
    for item in error.errors():
        for where, text in _messages(item, root, kinds):
            lines.append(f"{label}: {where}: {text}" if where else f"{label}: {text}")
    return lines
