"""scripts/pip_audit.py: vulnerabilities fail; an audit that could not run only warns."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def _script() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "scripts" / "pip_audit.py"
    spec = importlib.util.spec_from_file_location("pip_audit_script", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SKIPPED = """Name                    Skip Reason
----------------------- ------------------------------------------------------------
aiohttp                 Dependency not found on PyPI and could not be audited: aiohttp (3.14.5)
alembic                 Dependency not found on PyPI and could not be audited: alembic (1.20.1)
aman                    distribution marked as editable
No known vulnerabilities found
"""


def test_a_found_vulnerability_fails() -> None:
    out = "Found 1 known vulnerability in 1 package\nName Version ID Fix Versions\n"
    code, warning = _script().verdict(1, out)
    assert code == 1 and "vulnerabilities found" in warning


def test_an_unreachable_service_warns() -> None:
    code, warning = _script().verdict(1, "ConnectionError: Max retries exceeded")
    assert code == 0 and "could not reach" in warning


def test_dependencies_the_service_did_not_know_are_not_a_clean_bill() -> None:
    code, warning = _script().verdict(0, SKIPPED)
    assert code == 0 and "could not audit 2 dependencies" in warning


def test_a_clean_audit_is_quiet() -> None:
    out = "Name Skip Reason\naman distribution marked as editable\nNo known vulnerabilities found\n"
    assert _script().verdict(0, out) == (0, "")
