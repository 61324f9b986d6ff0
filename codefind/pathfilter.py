"""Which files a search may return: path prefixes (``codefind search Q src/``) and globs.

Globs follow ripgrep's ``--glob`` habits: a pattern without ``/`` matches the file name at
any depth (``*.py``), one with ``/`` matches the whole path from the root (``src/**/*.ts``),
``**`` crosses folders, and a leading ``!`` excludes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from codefind.errors import ConfigError


class PathFilter:
    """Decides whether a repo-relative path passes the prefixes and globs."""

    def __init__(self, prefixes: Sequence[str] = (), globs: Sequence[str] = ()) -> None:
        self.prefixes = tuple(p.strip("/") for p in prefixes if p.strip("/") not in ("", "."))
        self.include = tuple(_compile(g) for g in globs if not g.startswith("!"))
        self.exclude = tuple(_compile(g[1:]) for g in globs if g.startswith("!"))

    def matches(self, path: str) -> bool:
        """Whether ``path`` is under a prefix (if any) and passes the globs."""
        if self.prefixes and not any(path == p or path.startswith(p + "/") for p in self.prefixes):
            return False
        if self.include and not any(_hit(rx, path) for rx in self.include):
            return False
        return not any(_hit(rx, path) for rx in self.exclude)


def _hit(pattern: tuple[re.Pattern[str], bool], path: str) -> bool:
    regex, anchored = pattern
    if anchored:
        return regex.fullmatch(path) is not None
    # A bare name matches the file name or any folder on the way (``!tests`` skips tests/).
    return any(regex.fullmatch(part) for part in path.split("/"))


@lru_cache(maxsize=256)
def _compile(pattern: str) -> tuple[re.Pattern[str], bool]:
    """A glob as a regex and whether it is anchored at the root.

    Raises:
        ConfigError: The glob is not valid (e.g. a backwards range like ``[z-a]``).
    """
    glob = pattern.strip()
    anchored = "/" in glob.rstrip("/")
    glob = glob.lstrip("/")
    if not anchored:
        glob = glob.rstrip("/")  # `docs/` names a folder at any depth, like `docs`
    elif glob.endswith("/"):
        glob += "**"
    out, i = [], 0
    while i < len(glob):
        ch = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = glob.find("]", i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = glob[i + 1 : end].replace("\\", "\\\\")
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                i = end
        elif ch == "{":
            end = glob.find("}", i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                options = glob[i + 1 : end].split(",")
                out.append("(?:" + "|".join(re.escape(o) for o in options) + ")")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    try:
        return re.compile("".join(out)), anchored
    except re.error as exc:
        raise ConfigError(f"The glob {pattern!r} is not valid: {exc.msg}.") from None
