"""Every configuration key the docs name exists in the settings model.

The convention (docs/configuration.md, "How keys are named in these docs"):

- in prose, in backticks, the TOML table in brackets and then the key:
  ``[server] port``, ``[security] auth_failures.threshold``, ``[[clients]] webhook.url``,
  or a table alone: ``[payments.webhooks]``;
- in the first column of a Markdown table whose header cell reads ``key``: full
  dotted paths in backticks (``server.port``), several per cell allowed;
- anywhere, environment variables ``LIENTHONG_SECTION__KEY`` (``__`` nests);
- in fenced ``toml`` blocks, every key of every table.

``<name>`` stands for any name. ``LIENTHONG_TEST_*`` and ``LIENTHONG_BENCH_*`` are
the test suite's and the benchmark's variables, ``LIENTHONG_BUILD_COMMIT`` the build's
label and ``LIENTHONG_CONFIG`` the config file's name, not configuration. A literal in
brackets that is not a table is written in quotes (``"[redacted]"``).
"""

from __future__ import annotations

import ast
import dataclasses
import re
import tomllib
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from gateway.config import Settings, moved_keys

REPO = Path(__file__).resolve().parent.parent
NOT_CONFIG_ENV = (
    "LIENTHONG_TEST_",
    "LIENTHONG_BENCH_",
    "LIENTHONG_BUILD_COMMIT",
    "LIENTHONG_CONFIG",
)

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_SPAN = re.compile(r"`([^`\n]+)`")
_TOML_KEY = re.compile(r"^\[\[?([A-Za-z0-9_.<>-]+)\]\]?(?:\s+([A-Za-z0-9_.<>-]+))?$")
_ENV = re.compile(r"\bLIENTHONG_[A-Za-z0-9_<>]+")
_DOTTED = re.compile(r"^[a-z_<>][A-Za-z0-9_.<>-]*$")


def doc_files() -> list[Path]:
    """The README and every page under docs/."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _toml_paths(value: Any, prefix: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            yield from _toml_paths(inner, (*prefix, key))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for item in value:
            yield from _toml_paths(item, prefix)
    else:
        yield prefix


def _key_column_spans(text: str) -> Iterator[str]:
    """Backticked spans in the first column of tables whose header's first cell is ``key``."""
    in_key_table = False
    for line in text.splitlines():
        if not line.startswith("|"):
            in_key_table = False
            continue
        first = line.strip("|").split("|")[0].strip()
        if first == "key":
            in_key_table = True
        elif in_key_table and not set(first) <= set("-: "):
            yield from _SPAN.findall(first)


def named_keys(text: str) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(how the text wrote it, key path) for each configuration key the text names."""
    for language, block in _FENCE.findall(text):
        if language == "toml":
            for path in _toml_paths(tomllib.loads(block), ()):
                yield ".".join(path) + " (toml block)", path
    prose = _FENCE.sub("", text)
    for span in _SPAN.findall(prose):
        m = _TOML_KEY.match(span.strip())
        if m is not None:
            table, key = m.group(1), m.group(2)
            yield span, tuple(table.split(".")) + (tuple(key.split(".")) if key else ())
    for span in _key_column_spans(prose):
        if _DOTTED.match(span):
            yield span, tuple(span.split("."))
    for env in _ENV.findall(text):
        if not env.startswith(NOT_CONFIG_ENV):
            yield env, tuple(env.removeprefix("LIENTHONG_").lower().split("__"))


def _is_wildcard(segment: str) -> bool:
    return segment.startswith("<") and segment.endswith(">")


def resolves(annotation: Any, path: tuple[str, ...]) -> bool:
    """Whether ``path`` leads somewhere in a field of type ``annotation``."""
    if not path:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(resolves(arg, path) for arg in typing.get_args(annotation))
    if origin is typing.Literal:
        return False
    if origin in (list, tuple):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        return any(resolves(arg, path) for arg in args)
    if origin is dict:
        return resolves(typing.get_args(annotation)[1], path[1:])
    head, rest = path[0], path[1:]
    fields: dict[str, Any]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = {name: f.annotation for name, f in annotation.model_fields.items()}
    elif dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        fields = {f.name: f.type for f in dataclasses.fields(annotation)}
        hints = typing.get_type_hints(annotation)
        fields = {name: hints[name] for name in fields}
    else:
        return False
    if _is_wildcard(head):
        return any(resolves(inner, rest) for inner in fields.values())
    return head in fields and resolves(fields[head], rest)


def moved(path: tuple[str, ...]) -> bool:
    """Whether ``path`` is a key of an older shape that the loader refuses, naming its new key
    (the docs name such keys only to say where they went)."""
    tree: dict[str, Any] = {}
    node = tree
    for part in path:
        node = node.setdefault(part, {})
    return bool(moved_keys(tree, {}))


def unknown_keys(text: str) -> list[str]:
    """How the text wrote each key that the settings model does not have (nor refuses as moved)."""
    return [
        written
        for written, path in named_keys(text)
        if not resolves(Settings, path) and not moved(path)
    ]


def test_every_key_the_docs_name_exists() -> None:
    """README.md and docs/*.md name only configuration keys that Settings accepts."""
    wrong = {
        path.name: bad for path in doc_files() if (bad := unknown_keys(path.read_text("utf-8")))
    }
    assert wrong == {}


def test_the_docs_are_read() -> None:
    """The reader finds the keys of the configuration reference, in each of the forms
    (so the check above cannot pass on docs it failed to parse)."""
    text = (REPO / "docs" / "configuration.md").read_text("utf-8")
    found = {path for _, path in named_keys(text)}
    assert len(found) > 150
    assert ("server", "port") in found  # key-table column and LIENTHONG_SERVER__PORT
    assert ("payments", "polling", "pending_age_seconds") in found  # [table] key
    assert ("clients", "webhook", "url") in found
    assert (
        "upstreams",
        "population",
        "adapter",
        "tls",
        "pinned_sha256",
    ) in found  # a dataclass field


def test_each_form_of_a_wrong_key_is_caught() -> None:
    """A misspelt key is reported in every form the convention allows, and right ones are not."""
    text = "\n".join(
        [
            "Set `[server] prot` or `[payments.polling] pending_age_seconds`;",
            "`[upstreams.<provider>.resilience.operations.<operation>] deadline_seconds` is fine,",
            "and so is `[population.adapter] endpoint` (it moved), not `[population.adaptr]`.",
            "`[securty]` is not. LIENTHONG_SERVER__PROT=1, LIENTHONG_TEST_POSTGRES_DSN,",
            "LIENTHONG_BUILD_COMMIT=0123abc (the build's label, not configuration).",
            "",
            "| key | default | meaning |",
            "|---|---|---|",
            "| `server.port`, `server.hots` | 8700 | … |",
            "| `clients.webhook.url` | none | … |",
            "",
            "A span outside a key table, `payment.paid`, is not a key.",
            "",
            "```toml",
            "[upstreams.population.adapter.tls]",
            "pinned_sha256 = 'ab'",
            "verfy = true",
            "[[clients]]",
            "id = 'x'",
            "webhok = {}",
            "```",
        ]
    )
    assert sorted(unknown_keys(text)) == sorted(
        [
            "[server] prot",
            "[securty]",
            "LIENTHONG_SERVER__PROT",
            "server.hots",
            "upstreams.population.adapter.tls.verfy (toml block)",
            "[population.adaptr]",
            "clients.webhok (toml block)",
        ]
    )


def _docstrings() -> Iterator[tuple[str, str]]:
    """(where, text) of every module, class and function docstring in gateway/ and adapters/."""
    for package in ("gateway", "adapters"):
        for path in sorted((REPO / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if isinstance(
                    node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
                ):
                    text = ast.get_docstring(node, clean=False)
                    if text:
                        name = getattr(node, "name", "(module)")
                        yield f"{path.relative_to(REPO)}:{name}", text.replace("``", "`")


def docstring_unknown_keys(text: str) -> list[str]:
    """Keys a docstring names in a section the settings have, that do not exist there.

    Only spans whose first segment is a top-level section count (docstrings also hold
    regular expressions such as `[A-Z0-9]`); a key of the older shape is wrong here:
    a docstring describes the code as it is.
    """
    sections = set(Settings.model_fields) | {"population", "business"}
    return [
        written
        for written, path in named_keys(text)
        if path and path[0] in sections and not resolves(Settings, path)
    ]


def test_every_key_a_docstring_names_exists() -> None:
    """Docstrings in gateway/ and adapters/ name only configuration keys that Settings has."""
    wrong = {where: bad for where, text in _docstrings() if (bad := docstring_unknown_keys(text))}
    assert wrong == {}


def test_the_docstrings_are_read() -> None:
    """The docstring reader finds keys (so the check above cannot pass on nothing)."""
    found = {tuple(path) for _, text in _docstrings() for _, path in named_keys(text)}
    assert ("payments", "personal_data_retention_days") in found
    assert docstring_unknown_keys("`[population.adapter] endpoint`, `[A-Z0-9]`") == [
        "[population.adapter] endpoint"
    ]
