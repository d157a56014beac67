"""What the toolkit's notebook widgets share: a message line and refusals shown in it.

:class:`review.screening_widget.Screener` and :class:`review.appraisal_widget.Assessor` derive
from :class:`MessageLine`: a button or key action that the log refuses (bad input, a
conflicting decision) is shown in red in the widget's message line instead of raising out of
an ipywidgets callback, where the user would never see it.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any, ClassVar

import ipywidgets as widgets


class MessageLine:
    """Base of a widget object with a message line.

    ``widget`` is shown as the cell's value; ``message`` says what an action did or why it
    was refused (``_refusals``: the errors shown there, not raised).
    """

    _refusals: ClassVar[tuple[type[Exception], ...]] = ()
    message: widgets.HTML
    widget: widgets.VBox

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # Shown as the widget when the object is a cell's value.
        return self.widget._repr_mimebundle_(**kwargs)

    def _safe(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run a widget action; show refusals in the message line instead of raising."""
        try:
            fn(*args)
        except self._refusals as e:
            self._say(str(e), error=True)

    def _say(self, text: str, *, error: bool = False) -> None:
        colour = "#b00020" if error else "#1b5e20"
        self.message.value = f'<span style="color:{colour}">{html.escape(text)}</span>'
