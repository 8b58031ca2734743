"""The emulators are independent oracles: no module of ``atai_fs.emulator`` imports the
client, so a mistake in the client can never be mirrored by the emulator that tests it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import atai_fs.emulator

CLIENT_MODULES = (
    "atai_fs.targets",
    "atai_fs.fs",
    "atai_fs.engine",
    "atai_fs.checksums",
    "atai_fs.cli",
    "atai_fs.http",
    "atai_fs.errors",
    "atai_fs.presigned",
    "atai_fs.redact",
)

PACKAGE_DIR = Path(atai_fs.emulator.__file__).parent
MODULES = sorted(PACKAGE_DIR.rglob("*.py"))


def module_name(path: Path, package_dir: Path = PACKAGE_DIR) -> str:
    parts = ["atai_fs", *path.relative_to(package_dir.parent).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path, package_dir: Path = PACKAGE_DIR) -> set[str]:
    """Every module ``path`` imports, relative imports resolved to absolute names."""
    module = module_name(path, package_dir)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            # ``from .x`` is relative to the package, each further dot one package up.
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
            source = ".".join(part for part in (base, node.module) if part)
            names.add(source)
            # ``from .. import checksums`` imports a module by its bare name.
            names.update(f"{source}.{alias.name}" for alias in node.names)
    return names


def is_client(name: str) -> bool:
    return any(name == client or name.startswith(client + ".") for client in CLIENT_MODULES)


def test_every_emulator_module_is_checked():
    names = {module_name(path) for path in MODULES}
    assert {"atai_fs.emulator", "atai_fs.emulator.atai.app", "atai_fs.emulator.flow"} <= names


@pytest.mark.parametrize("path", MODULES, ids=[module_name(p) for p in MODULES])
def test_emulator_module_imports_no_client_code(path: Path):
    assert sorted(filter(is_client, imported_names(path))) == []


@pytest.mark.parametrize(
    ("module", "source", "imported"),
    [
        (
            "atai_fs/emulator/atai/app.py",
            "from ...checksums import crc32c_update",
            "atai_fs.checksums",
        ),
        ("atai_fs/emulator/atai/app.py", "from ... import targets", "atai_fs.targets"),
        ("atai_fs/emulator/__init__.py", "from ..fs import base", "atai_fs.fs"),
        ("atai_fs/emulator/flow/app.py", "import atai_fs.engine.plan", "atai_fs.engine.plan"),
    ],
)
def test_relative_and_absolute_imports_are_both_resolved(tmp_path, module, source, imported):
    path = tmp_path / module
    path.parent.mkdir(parents=True)
    path.write_text(source + "\n", encoding="utf-8")
    found = imported_names(path, package_dir=tmp_path / "atai_fs" / "emulator")
    assert imported in found and is_client(imported)
