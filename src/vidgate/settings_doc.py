"""docs/configuration.md's tables, generated from the settings' own descriptions.

Run `make configuration-doc` (`python -m vidgate.settings_doc`) after changing a setting; a test fails
when the committed file differs from what this writes. The prose around the tables is written by hand.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic.fields import FieldInfo

from vidgate.settings import SECTIONS, Settings

DOC = Path(__file__).parents[2] / "docs" / "configuration.md"
TYPE_NAMES = {
    str: "string",
    int: "integer",
    float: "float",
    bool: "boolean",
    Path: "path",
    SecretStr: "secret",
}


def begin(section: str) -> str:
    return f"<!-- settings:{section} (generated from src/vidgate/settings.py: make configuration-doc) -->"


def end(section: str) -> str:
    return f"<!-- /settings:{section} -->"


def _type_name(annotation: Any) -> str:
    args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    if typing.get_origin(annotation) is typing.Annotated:
        return _type_name(args[0])
    if typing.get_origin(annotation) is list:
        return "list"
    if typing.get_origin(annotation) is typing.Literal:
        return "string"
    if typing.get_origin(annotation) in (types.UnionType, typing.Union):
        return _type_name(args[0])
    return TYPE_NAMES[annotation]


def _default(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, bool):
        value = str(value).lower()
    if isinstance(value, list):
        value = ",".join(value)
    return '`""`' if value == "" else f"`{value}`"


def table(section: str) -> str:
    rows = ["| variable | type | default | meaning |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        if field.json_schema_extra == {"section": section}:
            variable = f"VIDGATE_{name.upper()}"
            rows.append(
                f"| `{variable}` | {_type_name(field.annotation)} | {_default(field)} | {field.description} |"
            )
    return "\n".join(rows)


def document_with_tables(text: str) -> str:
    """`text` with every section's table (between its markers) written anew."""
    for extra in SECTIONS:
        section = str(extra["section"])
        head, found, rest = text.partition(begin(section))
        if not found:
            raise ValueError(f"{DOC.name} has no {begin(section)!r}")
        _old, found, tail = rest.partition(end(section))
        if not found:
            raise ValueError(f"{DOC.name} has no {end(section)!r}")
        text = f"{head}{begin(section)}\n{table(section)}\n{end(section)}{tail}"
    return text


def main() -> None:
    DOC.write_text(document_with_tables(DOC.read_text()))
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
