"""Write docs/licences.md's tables from the installed packages' own metadata.

Run: `make licences` (or `.venv/bin/python benchmarks/licences.py`) in a venv with vidgate and its
extras installed (`make .venv/.installed` does). The tables list every package a run-time install
brings: vidgate's requirements and theirs, followed transitively, for the default install and for
each run-time extra; development tools are not run-time dependencies and do not appear.
`tests/test_licences.py` renders them again and fails when the committed file differs.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

DOC = Path(__file__).parents[1] / "docs" / "licences.md"
BEGIN, END = "<!-- licences:begin (benchmarks/licences.py writes this part) -->", "<!-- licences:end -->"
RUNTIME_EXTRAS = ("postgres", "s3")
# What the metadata does not say, found by reading the package (shown beside what it does say).
NOTES = {
    "espeakng-loader": "declares no licence, and its repository has no licence file; the library and "
    "voice data it bundles are **eSpeak NG, GPL-3.0-or-later** (see above)",
    "python-dateutil": "its classifiers and LICENSE file: Apache-2.0 AND BSD-3-Clause",
    "uvloop": "its classifiers name both MIT and Apache-2.0 (dual-licensed, either applies)",
}
# A `License` field longer than this is the licence's whole text, not its name.
LICENSE_NAME_MAX = 60


def licence_of(name: str) -> tuple[str, str]:
    """(licence, where the metadata says it): PEP 639's expression, else a short `License` field,
    else the trove classifiers."""
    metadata = distribution(name).metadata
    expression = metadata.get("License-Expression")
    if expression:
        return expression, "License-Expression"
    field = (metadata.get("License") or "").strip()
    if field and "\n" not in field and len(field) <= LICENSE_NAME_MAX:
        return field, "License"
    classifiers = [
        c.rsplit(" :: ", 1)[-1] for c in metadata.get_all("Classifier") or [] if c.startswith("License ::")
    ]
    if classifiers:
        return " / ".join(classifiers), "classifiers"
    return "not stated", "-"


def requirements(name: str, extras: frozenset[str]) -> list[str]:
    """The packages `name` (with `extras`) requires on this platform."""
    found = []
    for text in distribution(name).requires or []:
        requirement = Requirement(text)
        if requirement.marker is not None and not any(
            requirement.marker.evaluate({"extra": extra}) for extra in extras or {""}
        ):
            continue
        found.append(text)
    return found


def closure(root: str, extras: frozenset[str]) -> dict[str, set[str]]:
    """Every package installed for `root[extras]`, each with the packages that require it."""
    needed_by: dict[str, set[str]] = {}
    todo = [(root, extras)]
    done: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, wanted = todo.pop()
        if (name, wanted) in done:
            continue
        done.add((name, wanted))
        for text in requirements(name, wanted):
            requirement = Requirement(text)
            child = canonicalize_name(requirement.name)
            try:
                distribution(child)
            except PackageNotFoundError:
                sys.exit(f"{child} (required by {name}) is not installed: run `make .venv/.installed` first")
            needed_by.setdefault(child, set()).add(canonicalize_name(name))
            todo.append((child, frozenset(requirement.extras)))
    return needed_by


def table(packages: dict[str, set[str]]) -> str:
    rows = ["| package | licence | stated in | required by |", "|---|---|---|---|"]
    for name in sorted(packages):
        licence, source = licence_of(name)
        if name in NOTES:
            licence = f"{licence}: {NOTES[name]}"
        rows.append(f"| `{name}` | {licence} | {source} | {', '.join(sorted(packages[name]))} |")
    return "\n".join(rows)


def render() -> str:
    default = closure("vidgate", frozenset())
    own, source = licence_of("vidgate")
    parts = [f"vidgate itself: **{own}** ({source}).", "", "### Default install", "", table(default)]
    for extra in RUNTIME_EXTRAS:
        added = {
            name: parents
            for name, parents in closure("vidgate", frozenset({extra})).items()
            if name not in default
        }
        parts += ["", f"### The `{extra}` extra (beyond the default install)", "", table(added)]
    return "\n".join(parts)


def document_with(tables: str, document: str) -> str:
    head, _, rest = document.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{tables}\n{END}{tail}"


def main() -> None:
    DOC.write_text(document_with(render(), DOC.read_text()))
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
