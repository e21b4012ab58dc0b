"""Layering: the worker never depends on the API package, not even through the modules it imports."""

from __future__ import annotations

import ast
from pathlib import Path

import vidgate

SRC = Path(vidgate.__file__).parent


def source_of(module: str) -> Path | None:
    """The file of a `vidgate...` module, or None for a name that is not a module (an attribute)."""
    path = SRC.joinpath(*module.split(".")[1:])
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else None


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every vidgate module the file imports, anywhere in it (function-level imports included), with
    the packages above each, whose `__init__` runs first."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}".rstrip(".")
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    found = set()
    for name in names:
        parts = name.split(".")
        for end in range(1, len(parts) + 1):
            prefix = ".".join(parts[:end])
            if parts[0] == "vidgate" and source_of(prefix) is not None:
                found.add(prefix)
    return found


def import_chains(roots: list[str]) -> dict[str, list[str]]:
    """Every vidgate module reachable from `roots`, each with one chain of imports that reaches it."""
    chains = {root: [root] for root in roots}
    todo = list(roots)
    while todo:
        current = todo.pop()
        path = source_of(current)
        assert path is not None, current
        for imported in sorted(imports_of(path)):
            if imported not in chains:
                chains[imported] = [*chains[current], imported]
                todo.append(imported)
    return chains


def test_the_scan_sees_the_api_where_it_is_imported() -> None:
    chains = import_chains(["vidgate.app"])
    assert "vidgate.api.service" in chains and "vidgate.api" in chains
    assert "vidgate.results" in chains, "found through vidgate.api.service"


def test_the_worker_imports_nothing_from_the_api_package() -> None:
    roots = [module_name(path) for path in sorted((SRC / "worker").rglob("*.py"))]
    chains = import_chains(roots)
    assert "vidgate.webhooks" in chains and "vidgate.results" in chains, "the scan follows imports"
    leaks = [" -> ".join(chain) for name, chain in chains.items() if f"{name}.".startswith("vidgate.api.")]
    assert leaks == [], "the worker reaches the API package:\n" + "\n".join(leaks)


def test_settings_import_nothing_from_media() -> None:
    """Every process reads settings; the voice ids it checks are data (`vidgate.voices_catalogue`),
    so reading settings never pays for (or depends on) numpy, scipy or eSpeak."""
    chains = import_chains(["vidgate.settings"])
    assert "vidgate.voices_catalogue" in chains, "the scan follows the settings' imports"
    leaks = [" -> ".join(chain) for name, chain in chains.items() if name.startswith("vidgate.media")]
    assert leaks == [], "settings reach media code:\n" + "\n".join(leaks)
    heavy = {
        name
        for module in chains
        if (path := source_of(module)) is not None
        for name in third_party_imports(path)
        if name.split(".")[0] in ("numpy", "scipy", "espeakng_loader", "av", "torch")
    }
    assert heavy == set()


def all_modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_sql_lives_in_the_store() -> None:
    """Statements are the store's: no module outside `vidgate.store` imports SQLAlchemy or alembic."""
    leaks = [
        f"{module_name(path)} imports {name}"
        for path in all_modules()
        if not module_name(path).startswith("vidgate.store")
        for name in third_party_imports(path)
        if name.split(".")[0] in ("sqlalchemy", "alembic")
    ]
    assert leaks == []


def test_wall_clock_time_is_read_in_one_place() -> None:
    """`vidgate.clock.now()` is the one reading of the wall clock, so tests can move it everywhere."""
    readers = []
    for path in all_modules():
        if module_name(path) == "vidgate.clock":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            calls_time_time = (
                isinstance(node, ast.Attribute)
                and node.attr == "time"
                and isinstance(node.value, ast.Name)
                and node.value.id == "time"
            )
            imports_time_time = (
                isinstance(node, ast.ImportFrom)
                and node.module == "time"
                and any(alias.name == "time" for alias in node.names)
            )
            if calls_time_time or imports_time_time:
                readers.append(f"{module_name(path)}:{node.lineno}")
    assert readers == []


def test_no_module_imports_another_modules_privates() -> None:
    """A name with a leading underscore belongs to its module: `from vidgate.x import _y` is a leak."""
    leaks = []
    for path in all_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vidgate"):
                leaks += [
                    f"{module_name(path)}: {node.module}.{a.name}" for a in node.names if _is_private(a.name)
                ]
    assert leaks == []


def test_routes_are_thin_and_the_api_modules_share_through_deps() -> None:
    """Routers import what they share from `api.deps`, never from each other's modules."""
    routers = ["vidgate.api.routes", "vidgate.api.observe", "vidgate.api.providers", "vidgate.api.web"]
    for router in routers:
        path = source_of(router)
        assert path is not None, router
        imported = imports_of(path)
        assert not imported & (set(routers) - {router}), f"{router} imports another router"


def third_party_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module)
    return {name for name in names if not name.startswith("vidgate")}


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_what_the_api_reads_of_engines_loads_no_engine() -> None:
    """The API checks submits against every engine's limits: that must not load PyAV, numpy or torch."""
    import subprocess
    import sys

    probe = (
        "import sys, vidgate.engines as e; from vidgate.settings import Settings; "
        "[e.spec(n).limits(Settings(_env_file=None)) for n in ('motion', 'vidu')]; "
        "print(sorted(m for m in ('av', 'numpy', 'torch', 'diffusers') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
