"""Architecture rules as tests (as X-Road keeps them): the import graph, read with ``ast``.

Every ``import`` counts, wherever it is written: at module level, inside a
function (a function-local import only postpones a cycle to the first call, it
does not remove it) and under ``if TYPE_CHECKING:``. Only project modules
(``gateway.*`` and ``adapters.*``) are nodes; importing a package's submodule
is an edge to that submodule, not to every package above it.

The rules:

- ``adapters`` never imports ``gateway`` (the national-system side knows
  nothing of the city-facing service);
- no import cycles among project modules;
- the store (``gateway/store/``) imports no project module outside it but the
  exception tree's leaf ``gateway.errors``: it never calls out, and knows nothing
  of payments, audit or adapters;
- ``gateway.errors`` imports no project module;
- a config module (``gateway/config.py``, ``gateway/**/config.py``,
  ``adapters/**/config.py``) imports only other config modules (and the exception
  tree's leaf ``gateway.errors``), the standard library and pydantic, and
  ``import gateway.config`` loads no implementation;
- a route module (``gateway/routes/*``, or any ``routes`` module of a slice)
  never imports an adapter client (``adapters.**.client``, ``adapters.http``,
  ``adapters.payment.transport``, or a ``*Client`` name from any adapter
  package): routes call the gateway's services, which own the clients;
- the audit slice's reading side (``gateway.audit.export``, ``gateway.audit.chain``)
  reaches neither the audit log nor its writer or checkpoint ticker, and the audit
  commands (``gateway.audit.commands``) import none of them: ``audit verify|export``
  read the store with the keys and name no instance of their own.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "adapters")
#: Adapter modules that speak to a national system: routes must not import them.
CLIENT_MODULES = ("adapters.http", "adapters.payment.transport")


@dataclass(frozen=True)
class Edge:
    """One import: ``importer`` names ``imported`` (a project module) at ``line``."""

    importer: str
    imported: str
    names: tuple[str, ...]
    line: int


def project_modules(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Dotted module name → file, for every ``.py`` file of the packages under ``root``."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _project_module(name: str, modules: dict[str, Path]) -> str | None:
    """The longest project module that ``name`` is or lies in (None outside the project)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> Iterator[Edge]:
    """Every import in the file, to a project module, with the names it takes."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _project_module(alias.name, modules)
                if target is not None:
                    yield Edge(module, target, (), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            for alias in node.names:
                # ``from gateway import monitoring`` imports the submodule itself.
                submodule = f"{base}.{alias.name}"
                target = submodule if submodule in modules else _project_module(base, modules)
                if target is not None:
                    yield Edge(module, target, (alias.name,), node.lineno)


def import_edges(root: Path = REPO, packages: tuple[str, ...] = PACKAGES) -> list[Edge]:
    """Every import between project modules under ``root``."""
    modules = project_modules(root, packages)
    return [
        edge
        for module, path in modules.items()
        for edge in imports_of(module, path, modules)
        if edge.imported != module
    ]


def import_cycles(edges: list[Edge]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.importer, set()).add(edge.imported)
        graph.setdefault(edge.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(cycles)


#: Route modules that a slice names otherwise than ``routes``.
OTHER_ROUTE_MODULES = ("gateway.payments.callbacks", "gateway.http.ops", "gateway.reports.route")


def _is_route_module(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "gateway" and ("routes" in parts or module in OTHER_ROUTE_MODULES)


def _is_adapter_client(edge: Edge) -> bool:
    target = edge.imported
    if not target.startswith("adapters"):
        return False
    if target.split(".")[-1] == "client" or target in CLIENT_MODULES:
        return True
    return any(name.endswith("Client") for name in edge.names)


def _show(edges: list[Edge]) -> str:
    return "; ".join(f"{e.importer}:{e.line} imports {e.imported}" for e in edges)


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def edges() -> list[Edge]:
    """The project's import graph, read once."""
    return import_edges()


def test_the_graph_is_read(edges: list[Edge]) -> None:
    """The reader sees the project's real imports (guards every rule below against passing
    on an empty graph): app imports the store and the slices; a slice's runtime its routes
    and the adapters it wires."""
    pairs = {(e.importer, e.imported) for e in edges}
    assert ("gateway.app", "gateway.store") in pairs
    assert ("gateway.app", "gateway.citizens.runtime") in pairs
    assert ("gateway.citizens.runtime", "gateway.citizens.routes") in pairs
    assert ("gateway.citizens.runtime", "adapters.population") in pairs
    assert len(pairs) > 200


def test_adapters_never_import_the_gateway(edges: list[Edge]) -> None:
    """No module under adapters/ imports anything from gateway/."""
    wrong = [
        e for e in edges if e.importer.startswith("adapters") and e.imported.startswith("gateway")
    ]
    assert not wrong, _show(wrong)


def test_no_import_cycles(edges: list[Edge]) -> None:
    """No cycle among project modules, function-local and TYPE_CHECKING imports included."""
    assert import_cycles(edges) == []


def test_the_store_imports_nothing_outside_itself(edges: list[Edge]) -> None:
    """gateway/store/ depends on no other project module but the exception tree's root.

    The store never calls out; ``gateway.errors`` is a leaf (next test), so raising
    ``StoreError`` under the gateway's one root does not make it call anything.
    """
    assert any(e.importer == "gateway.store" for e in edges)
    wrong = [
        e
        for e in edges
        if e.importer.startswith("gateway.store")
        and not e.imported.startswith("gateway.store")
        and e.imported != "gateway.errors"
    ]
    assert not wrong, _show(wrong)


def test_the_exception_tree_imports_no_project_module(edges: list[Edge]) -> None:
    """gateway/errors.py is a leaf: every layer, the store included, may raise under its root."""
    wrong = [e for e in edges if e.importer == "gateway.errors"]
    assert not wrong, _show(wrong)


def test_routes_never_import_an_adapter_client(edges: list[Edge]) -> None:
    """Route modules reach the national systems only through the gateway's services."""
    routes = {e.importer for e in edges if _is_route_module(e.importer)}
    assert "gateway.citizens.routes" in routes
    assert set(OTHER_ROUTE_MODULES) <= routes
    wrong = [e for e in edges if _is_route_module(e.importer) and _is_adapter_client(e)]
    assert not wrong, _show(wrong)


#: The audit slice's writing side: what appends to a chain and keeps it checkpointed.
AUDIT_WRITING = frozenset(
    {"gateway.audit.log", "gateway.audit.writer", "gateway.audit.checkpoints"}
)


def _reachable(edges: list[Edge], start: str) -> set[str]:
    """Every module ``start`` imports, directly or through others."""
    imports: dict[str, set[str]] = {}
    for e in edges:
        imports.setdefault(e.importer, set()).add(e.imported)
    seen: set[str] = set()
    todo = [start]
    while todo:
        for imported in imports.get(todo.pop(), set()) - seen:
            seen.add(imported)
            todo.append(imported)
    return seen


def test_audit_verify_and_export_never_build_the_audit_log(edges: list[Edge]) -> None:
    """Verifying and exporting are functions of the store and the keys: the modules that do
    them reach no writer, and the commands module constructs none (``audit archive`` goes
    through ``gateway.audit.archive``, appending to the chain of the instance it names)."""
    reading = _reachable(edges, "gateway.audit.export") | _reachable(edges, "gateway.audit.chain")
    assert "gateway.audit.signing" in reading
    assert not reading & AUDIT_WRITING, sorted(reading & AUDIT_WRITING)
    commands = [e for e in edges if e.importer == "gateway.audit.commands"]
    wrong = [e for e in commands if e.imported in AUDIT_WRITING]
    assert not wrong, _show(wrong)
    assert {"gateway.audit.export", "gateway.audit.archive"} <= {e.imported for e in commands}


def test_a_cycle_hidden_in_a_function_is_found(tmp_path: Path) -> None:
    """The cycle reader counts a function-local import (the way app → monitoring → server →
    app was hidden) and a relative one."""
    _write(
        tmp_path,
        {
            "gateway/__init__.py": "",
            "gateway/app.py": "from gateway import monitoring\n",
            "gateway/monitoring.py": "def f():\n    from .server import helper\n",
            "gateway/server.py": "def g():\n    import gateway.app\n",
            "gateway/leaf.py": "import gateway.server\n",
        },
    )
    cycles = import_cycles(import_edges(tmp_path, ("gateway",)))
    assert cycles == [["gateway.app", "gateway.monitoring", "gateway.server"]]


def test_forbidden_imports_are_found(tmp_path: Path) -> None:
    """An adapter importing the gateway and a route importing a client are both seen."""
    _write(
        tmp_path,
        {
            "gateway/__init__.py": "",
            "gateway/routes/__init__.py": "",
            "gateway/citizens/routes.py": (
                "def h():\n    from adapters.population import PopulationClient\n"
            ),
            "gateway/payments/routes.py": "import adapters.payment.vnpay.client\n",
            "gateway/http/ops.py": "from adapters.errors import UpstreamError\n",
            "adapters/__init__.py": "",
            "adapters/errors.py": "from gateway.routes import ops\n",
            "adapters/population/__init__.py": "PopulationClient = object\n",
            "adapters/payment/__init__.py": "",
            "adapters/payment/vnpay/__init__.py": "",
            "adapters/payment/vnpay/client.py": "",
        },
    )
    found = import_edges(tmp_path)
    assert [(e.importer, e.imported) for e in found if _is_adapter_client(e)] == [
        ("gateway.citizens.routes", "adapters.population"),
        ("gateway.payments.routes", "adapters.payment.vnpay.client"),
    ]
    assert [e.importer for e in found if e.imported.startswith("gateway")] == ["adapters.errors"]


def _is_config_module(module: str) -> bool:
    """``gateway.config`` and every ``config`` module of a package under gateway/ or adapters/."""
    return module.split(".")[-1] == "config"


#: What a config module may import besides config modules: the exception tree's leaf
#: (a config that does not validate is a refused command, ``ConfigError``), and the list of
#: national systems (``[upstreams]`` has one section per system; the list names the adapter
#: packages by string and imports no project module: next test).
CONFIG_MAY_IMPORT = frozenset({"gateway.errors", "adapters.systems"})
#: The modules that iterate the national systems instead of naming each one.
SYSTEM_NEUTRAL = ("gateway.app", "gateway.dev.embedded", "gateway.config")


def _system_packages() -> list[str]:
    from adapters.systems import SYSTEMS

    return [system.package for system in SYSTEMS]


def test_the_leaves_a_config_module_may_import_import_nothing(edges: list[Edge]) -> None:
    """``gateway.errors`` and ``adapters.systems`` import no project module, so a config
    module importing them still loads no implementation."""
    wrong = [e for e in edges if e.importer in CONFIG_MAY_IMPORT]
    assert not wrong, _show(wrong)


def test_no_per_system_adapter_imports_in_the_composition(edges: list[Edge]) -> None:
    """app.py, embedded.py and config.py import no national system's adapter package (nor
    any module in one): they iterate ``adapters.systems.SYSTEMS``, so adding a system is its
    package, one line there and its slice."""
    packages = _system_packages()
    assert {"adapters.population", "adapters.payment.vnpay"} <= set(packages)
    assert any(e.importer == "gateway.dev.embedded" for e in edges)
    wrong = [
        e
        for e in edges
        if e.importer in SYSTEM_NEUTRAL
        and any(e.imported == p or e.imported.startswith(p + ".") for p in packages)
    ]
    assert not wrong, _show(wrong)


def test_every_system_package_exports_the_same_three_names() -> None:
    """Each national system's package exports ``Config``, ``open_client`` and
    ``open_sandbox``; each ``Config`` has ``ENDPOINTS`` and ``at_sandbox``."""
    import importlib

    for package in _system_packages():
        module = importlib.import_module(package)
        assert set(module.__all__) == {"Config", "open_client", "open_sandbox"}, package
        assert module.Config.ENDPOINTS, package
        assert all(f in module.Config.model_fields for f in module.Config.ENDPOINTS), package
        assert callable(module.Config.at_sandbox), package


def test_config_modules_import_only_config_modules(edges: list[Edge]) -> None:
    """A config module (``gateway/config.py``, ``gateway/**/config.py``, ``adapters/**/config.py``)
    imports no implementation: among project modules only other config modules (the rest is
    the standard library and pydantic, checked below)."""
    configs = {e.importer for e in edges if _is_config_module(e.importer)}
    assert {"gateway.config", "adapters.population.config", "adapters.business.config"} <= configs
    wrong = [
        e
        for e in edges
        if _is_config_module(e.importer)
        and not _is_config_module(e.imported)
        and e.imported not in CONFIG_MAY_IMPORT
    ]
    assert not wrong, _show(wrong)


def test_config_modules_import_only_stdlib_and_pydantic() -> None:
    """Outside the project, a config module imports the standard library and pydantic only."""
    allowed = {"pydantic", "pydantic_settings", "__future__"}
    wrong = []
    for module, path in project_modules(REPO).items():
        if not _is_config_module(module):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            for name in names:
                top = name.split(".")[0]
                if top in PACKAGES or top in allowed or top in sys.stdlib_module_names:
                    continue
                wrong.append(f"{module}:{node.lineno} imports {name}")
    assert not wrong, "; ".join(wrong)


#: How many project modules ``import gateway.config`` may load: the config modules and the
#: packages above them (22 today; 79 when config modules imported implementation).
CONFIG_IMPORT_BUDGET = 25


def test_reading_the_configuration_loads_no_implementation() -> None:
    """``python -c "import gateway.config"`` loads fewer than CONFIG_IMPORT_BUDGET project
    modules, none of them implementation (a package ``__init__`` on the way loads nothing)."""
    code = (
        "import sys, gateway.config\n"
        "print('\\n'.join(m for m in sys.modules if m.split('.')[0] in ('gateway', 'adapters')))"
    )
    out = subprocess.run(  # noqa: S603 (our own interpreter, a fixed program)
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    modules = project_modules(REPO)
    packages = {m for m, p in modules.items() if p.name == "__init__.py"}
    implementation = [
        m
        for m in out
        if not _is_config_module(m) and m not in packages and m not in CONFIG_MAY_IMPORT
    ]
    assert implementation == []
    assert len(out) < CONFIG_IMPORT_BUDGET, out
