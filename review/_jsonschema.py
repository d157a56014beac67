"""jsonschema, imported without building a grammar the toolkit never uses.

``import jsonschema`` loads ``jsonschema._format``, which imports the optional
``rfc3987_syntax`` package when it is installed (JupyterLab's dependencies install it) to
check the ``iri`` string format. That import compiles 38 parser grammars: 2.6 s measured
here, paid by every notebook kernel that reads a protocol (about a third of ``make run``).
The toolkit's schemas (protocol, risk-of-bias tools, certainty judgements) check no string
format, so ``rfc3987_syntax`` is hidden while jsonschema is first imported, then unhidden:
a later ``import rfc3987_syntax`` by anyone else works as before; only jsonschema's own
``iri`` format checker is not registered in this process.
"""

from __future__ import annotations

import sys

__all__ = ["jsonschema"]

_HIDE = "rfc3987_syntax"
_hidden = _HIDE not in sys.modules and "jsonschema" not in sys.modules
if _hidden:
    sys.modules[_HIDE] = None  # type: ignore[assignment]  # import now raises ImportError
try:
    import jsonschema
finally:
    if _hidden and sys.modules.get(_HIDE, 0) is None:
        del sys.modules[_HIDE]
