"""The layers the source tree shows are the ones the imports keep: each layer imports only those below it, no
command imports another command, and only the command line imports click (docs/design.md, "The layers")."""
from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "src" / "xlnet"
LAYERS = {  # a lower number is a lower layer
    "errors": 0, "workers": 0,
    "xlsx": 1, "peers": 1,
    "model": 2,
    "presets": 3,
    "table": 4,
    "workbook": 5,
    "fitting": 6,
    "commands": 7,
    "cli": 8, "__init__": 8, "__main__": 9,
}


def layer_of(module: str) -> str:
    """The layer of a module of the package, as 'xlnet.model.net' or 'model/net.py' would name it."""
    return module.removeprefix("xlnet.").replace("/", ".").split(".")[0].removesuffix(".py")


def imports(path: Path) -> set[str]:
    """Every module of xlnet (and click) that a source file imports, at any depth in it."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out |= {f"{node.module}.{a.name}" for a in node.names} if node.module == "xlnet" else {node.module}
        elif isinstance(node, ast.ImportFrom) and node.level:
            out.add(".".join(["xlnet", *path.relative_to(PACKAGE).parts[:-node.level]] +
                             ([node.module] if node.module else [])))
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return {m for m in out if m.split(".")[0] in ("xlnet", "click")}


def sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_is_in_a_layer():
    assert {layer_of(str(p.relative_to(PACKAGE))) for p in sources()} <= set(LAYERS)


def test_each_layer_imports_only_the_layers_below_it():
    upward = []
    for path in sources():
        here = layer_of(str(path.relative_to(PACKAGE)))
        for module in imports(path):
            if module.startswith("xlnet.") and LAYERS[layer_of(module)] > LAYERS[here]:
                upward.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert not upward, upward


def test_no_command_imports_another_and_only_the_cli_imports_click():
    found = []
    for path in sources():
        name = str(path.relative_to(PACKAGE))
        for module in imports(path):
            if name.startswith("commands/") and module.startswith("xlnet.commands"):
                found.append(f"{name} imports {module}")
            if module.split(".")[0] == "click" and name != "cli.py":
                found.append(f"{name} imports {module}")
    assert not found, found
