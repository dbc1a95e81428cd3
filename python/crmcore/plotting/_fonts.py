"""Fonts for names in any script: Chinese, Japanese and Korean names need a
CJK font beside matplotlib's default, which has no such glyphs."""
from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable, Iterator, TypeVar

__all__ = ["cjk_font", "drawing", "families"]

# Installed by scripts/setup.sh from Debian (fonts-wqy-microhei); the others
# are what other systems ship.
_CJK_FAMILIES = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC",
                 "WenQuanYi Zen Hei", "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC", "Arial Unicode MS")
_CJK_FILES = ("wqy-microhei", "wqy-zenhei", "notosanscjk", "sourcehansans")


@functools.lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of an installed font with CJK glyphs, or None.

    A font installed after matplotlib built its font cache is not in that
    cache; such files are looked for among the system's fonts and added.

    >>> cjk_font() is None or isinstance(cjk_font(), str)
    True
    """
    from matplotlib import font_manager

    def known() -> str | None:
        have = {f.name for f in font_manager.fontManager.ttflist}
        return next((name for name in _CJK_FAMILIES if name in have), None)

    found = known()
    if found is None:
        for path in font_manager.findSystemFonts():
            if any(key in path.lower().replace("-", "").replace("_", "") for key in
                   (k.replace("-", "") for k in _CJK_FILES)):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):  # a font file matplotlib cannot read
                    continue
        found = known()
    return found


def families() -> list[str]:
    """The font families for text in any script: matplotlib's default, then
    the CJK font when there is one. Given by name (not "sans-serif", which
    is looked up again when the figure is drawn, outside :func:`drawing`).

    >>> families()[0]
    'DejaVu Sans'
    """
    cjk = cjk_font()
    return ["DejaVu Sans", cjk] if cjk else ["DejaVu Sans"]


@contextlib.contextmanager
def _families() -> Iterator[None]:
    import matplotlib

    with matplotlib.rc_context({"font.family": families()}):
        yield


F = TypeVar("F", bound=Callable[..., Any])


def drawing(function: F) -> F:
    """Runs a plotting function with a font list that covers every script
    (matplotlib falls back glyph by glyph), for the text it makes and for
    any CJK text already on its figure."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _families():
            ax = function(*args, **kwargs)
        # Text that existed before (the title of axes made by the caller) keeps
        # the font it was made with: give every text the list.
        from matplotlib.text import Text

        if hasattr(ax, "figure"):
            wanted = families()
            for text in ax.figure.findobj(Text):
                if any(ord(ch) >= 0x2E80 for ch in text.get_text()):
                    text.set_fontfamily(wanted)
        return ax

    return wrapper  # type: ignore[return-value]
