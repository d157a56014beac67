"""Shared test configuration.

Optional resources (``../shared`` fixtures, Chromium, R) are skipped with a stated reason
on a reviewer's machine. CI sets ``REVIEW_REQUIRE_SHARED=1`` / ``REVIEW_REQUIRE_BROWSER=1``
where the resource is guaranteed, and then a missing resource fails the test instead: a skip
never passes for green.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
PUBMED_FIXTURES = SHARED / "fixtures" / "pubmed"


def require_or_skip(available: bool, env_var: str, reason: str) -> None:
    """Skip when a resource is missing, unless ``env_var`` demands it, then fail."""
    if available:
        return
    if os.environ.get(env_var) == "1":
        pytest.fail(f"{reason}, but {env_var}=1 requires it", pytrace=False)
    pytest.skip(f"{reason} (set {env_var}=1 to make this an error)")


@pytest.fixture
def pubmed_fixtures() -> Path:
    """Folder of real E-utilities responses in ../shared; skipped when absent."""
    require_or_skip(
        PUBMED_FIXTURES.is_dir() and any(PUBMED_FIXTURES.glob("*.xml")),
        "REVIEW_REQUIRE_SHARED",
        f"real E-utilities fixtures not found at {PUBMED_FIXTURES}",
    )
    return PUBMED_FIXTURES


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never touch the internet: connections outside loopback are refused."""
    import socket

    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else address
        if (
            isinstance(host, str)
            and host not in ("127.0.0.1", "localhost", "::1")
            and not (host.startswith("127.") or self.family == socket.AF_UNIX)
        ):
            raise OSError(f"tests may not reach the network ({host!r})")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
