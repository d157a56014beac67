"""The environment a run used, and how it differs from the committed lock.

``requirements.lock`` (written by ``make lock``: ``uv pip compile --universal
--generate-hashes`` in pip's requirements format) pins every distribution the toolkit's
environment installs, for every platform, with environment markers where a pin applies to
some platforms or Python versions only. This module reads it with the markers evaluated
for the running interpreter, compares it with what is installed, and writes the conda
route's pins (``environment.yml``) from it, so both routes install the same versions.

``python -m review._environment --conda environment.yml`` rewrites the pins of
``environment.yml`` from the lock (``make lock`` does it).
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import re
import sys
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.version import InvalidVersion, Version

__all__ = [
    "LockMismatchWarning",
    "conda_pins",
    "conda_versions",
    "describe",
    "installed_versions",
    "lock_differences",
    "lock_entries",
    "lock_versions",
    "mismatch_message",
    "normalize",
]

#: The project itself: installed from the checkout, never pinned by the lock.
PROJECT = "review"
_REQ = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;\\]+)\s*(?:;\s*(.*?))?\s*$")


class LockMismatchWarning(UserWarning):
    """The running environment does not have the versions of the committed lock."""


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares it (``Scikit_Learn`` -> ``scikit-learn``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_entries(text: str) -> list[tuple[str, str, str | None]]:
    """``(name, version, marker)`` of every pin of a lock in pip's requirements format.

    Continuation lines (hashes) and comments are skipped; a line that is neither a pin
    ``name==version`` (with an optional ``; marker``) nor an option raises ``ValueError``.
    """
    out: list[tuple[str, str, str | None]] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line or line.startswith(("--", "-")):
            continue
        m = _REQ.match(line.rstrip("\\").strip())
        if m is None:
            raise ValueError(f"line {n} of the lock is not a pin 'name==version': {raw!r}")
        out.append((normalize(m.group(1)), m.group(2), m.group(3) or None))
    return out


def lock_versions(text: str, environment: Mapping[str, str] | None = None) -> dict[str, str]:
    """The pins of a lock that apply to an environment: ``{normalized name: version}``.

    Parameters
    ----------
    text : str
        The lock file's text.
    environment : mapping, optional
        Marker variables to override (e.g. ``{"python_full_version": "3.11.9"}``); the
        running interpreter's values otherwise.

    Examples
    --------
    >>> lock = (
    ...     "numpy==2.4.6 ; python_full_version < '3.12'\\n"
    ...     "numpy==2.5.5 ; python_full_version >= '3.12'\\n"
    ... )
    >>> lock_versions(lock, {"python_full_version": "3.11.7", "python_version": "3.11"})
    {'numpy': '2.4.6'}
    """
    env = dict(environment or {})
    out: dict[str, str] = {}
    for name, version, marker in lock_entries(text):
        if marker is None or Marker(marker).evaluate(env):
            if name in out and out[name] != version:
                raise ValueError(f"the lock pins {name} twice: {out[name]} and {version}")
            out[name] = version
    return out


def installed_versions() -> dict[str, str]:
    """Every distribution installed for this interpreter: ``{normalized name: version}``."""
    out: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            out.setdefault(normalize(name), dist.version)
    return dict(sorted(out.items()))


def _same(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def lock_differences(locked: Mapping[str, str], installed: Mapping[str, str]) -> list[str]:
    """What differs between the lock's pins and the installed distributions, one per package.

    The project itself (``review``) is left out: it is installed from the checkout.

    Examples
    --------
    >>> locked = {"numpy": "2.4.6", "scipy": "1.17.1"}
    >>> for line in lock_differences(locked, {"numpy": "2.4.5", "tqdm": "4.0"}):
    ...     print(line)
    numpy 2.4.5 (locked: 2.4.6)
    scipy not installed (locked: 1.17.1)
    tqdm 4.0 (not in the lock)
    """
    out: list[str] = []
    for name in sorted(set(locked) | set(installed)):
        if name == PROJECT:
            continue
        want, have = locked.get(name), installed.get(name)
        if want is None:
            out.append(f"{name} {have} (not in the lock)")
        elif have is None:
            out.append(f"{name} not installed (locked: {want})")
        elif not _same(want, have):
            out.append(f"{name} {have} (locked: {want})")
    return out


def mismatch_message(lock: Path, differences: Sequence[str], shown: int = 12) -> str:
    """The warning of ``review run`` when the environment differs from the lock."""
    listed = "; ".join(differences[:shown])
    if len(differences) > shown:
        listed += f"; and {len(differences) - shown} more (all in run-manifest.json)"
    return (
        f"this environment differs from {lock.name} in {len(differences)} "
        f"distribution{'s' if len(differences) != 1 else ''}: {listed}. Results may differ "
        "from those made with the locked versions; `make setup` reinstalls them exactly."
    )


def describe(lock: Path | None) -> dict[str, Any]:
    """What a run used: Python, platform, every installed distribution, and the lock.

    ``lock`` is ``None`` (or a missing file) outside a checkout: then only what is installed
    is described. A lock that cannot be read is described by its ``error``.
    """
    installed = installed_versions()
    out: dict[str, Any] = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "distributions": installed,
    }
    if lock is not None and lock.is_file():
        data = lock.read_bytes()
        out["lock"] = {"file": lock.name, "sha256": hashlib.sha256(data).hexdigest()}
        try:
            locked = lock_versions(data.decode("utf-8"))
        except ValueError as e:  # not UTF-8, not a pin, a bad marker, a name pinned twice
            out["lock"] |= {"error": f"cannot be read: {e}", "differences": []}
        else:
            out["lock"]["differences"] = lock_differences(locked, installed)
    return out


_PIN = re.compile(r"^(\s*-\s+)([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:[=<>!~].*)?$")


def conda_pins(environment_yml: str, locked: Mapping[str, str]) -> str:
    """``environment.yml`` with each package pinned (``==``) to the lock's version.

    Only the list items that name a locked distribution are rewritten (``python``,
    ``pip`` and ``-e .`` are left as written); comments and order are kept.

    Examples
    --------
    >>> conda_pins("dependencies:\\n  - python=3.11\\n  - numpy>=1.26\\n", {"numpy": "2.4.6"})
    'dependencies:\\n  - python=3.11\\n  - numpy==2.4.6\\n'
    """
    lines = []
    for line in environment_yml.splitlines(keepends=True):
        body = line.rstrip("\n")
        m = _PIN.match(body)
        if m and normalize(m.group(2)) in locked and m.group(2) not in ("python", "pip"):
            body = f"{m.group(1)}{m.group(2)}=={locked[normalize(m.group(2))]}"
        lines.append(body + line[len(line.rstrip("\n")) :])
    return "".join(lines)


def conda_versions(lock_text: str, python: str) -> dict[str, str]:
    """The lock's pins for the conda route's Python ``X.Y`` (``environment.yml`` pins it).

    A pin that differs between the first and a late patch release of ``X.Y`` is left out:
    no single version fits such a Python.
    """
    first = lock_versions(
        lock_text, {"python_version": python, "python_full_version": f"{python}.0"}
    )
    late = lock_versions(
        lock_text, {"python_version": python, "python_full_version": f"{python}.99"}
    )
    return {k: v for k, v in first.items() if late.get(k) == v}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m review._environment --conda environment.yml [--lock requirements.lock]``."""
    from review.paths import lock_file

    ap = argparse.ArgumentParser(prog="python -m review._environment", description=__doc__)
    ap.add_argument("--lock", type=Path, default=lock_file())
    ap.add_argument("--conda", type=Path, required=True, help="environment.yml to re-pin")
    ap.add_argument("--python", default="3.11", help="the conda route's Python (X.Y)")
    args = ap.parse_args(argv)
    locked = conda_versions(args.lock.read_text("utf-8"), args.python)
    text = args.conda.read_text("utf-8")
    new = conda_pins(text, locked)
    if new != text:
        args.conda.write_text(new, "utf-8")
    print(f"{args.conda}: pins from {args.lock.name}" + (" (unchanged)" if new == text else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
