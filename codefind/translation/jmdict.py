"""JMdict (and KANJIDIC2 for lone kanji), read from the SQLite file ``jamdict-data`` ships.

The package is large (a ~310 MB database, ~125 MB download), so Japanese is the optional
extra ``codefind[ja]``. Only the database is used, never the ``jamdict`` library: the map is
built with a handful of bulk queries, and the database is not touched again once the map is
cached. Some releases ship the database xz-compressed (``jamdict.db.xz``); it is then
decompressed once into the cache folder, read, and deleted.

Which entry a headword maps to: a kanji form, or a kana form of a word usually written in
kana (katakana loanwords, ``すべて``); among several, the one JMdict marks as common
(ichi1/news1/spec1/gai1), then the lower sequence number. The senses that apply to that form
and are not archaic, cleaned like every other sense, are its candidates (senses in JMdict's
"computing" field marked); which one a query gets is ranked later. Verbs and
adjectives also get their conjugation stems (``読ん`` in ``読んで``, ``並べ`` in
``並べた``), since a query is written in running text, not in dictionary forms.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import lzma
import shutil
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from codefind.atomic import atomic_path
from codefind.errors import DictionaryMissingError
from codefind.translation.chars import is_cjk_word, is_han, is_hiragana_word, is_kana
from codefind.translation.lexicon import DictionaryMap
from codefind.translation.senses import (
    MAX_SENSES,
    SEPARATOR,
    Candidate,
    encode_candidates,
    first_usable_sense,
    usable_senses,
)

NAME = "JMdict"
PACKAGE = "jamdict_data"
DISTRIBUTION = "jamdict-data"
DB_NAMES = ("jamdict.db", "jamdict.db.xz")
INSTALL_HINT = "pip install 'codefind[ja]'"

_COMMON_TAGS = frozenset({"ichi1", "news1", "spec1", "gai1"})
_FREQUENT_TAGS = frozenset({"ichi2", "news2", "spec2", "gai2"})
_SKIPPED_MISC = frozenset({"archaism", "obsolete term", "obscure term", "rare", "dated term"})
_USUALLY_KANA = "word usually written using kana alone"

# Godan verbs: dictionary-form ending -> the endings of its conjugation stems
# (negative, continuative, conditional, volitional, and the te/ta form's sound change).
_GODAN_STEMS: dict[str, tuple[str, ...]] = {
    "う": ("わ", "い", "え", "お", "っ"),
    "く": ("か", "き", "け", "こ", "い"),
    "ぐ": ("が", "ぎ", "げ", "ご", "い"),
    "す": ("さ", "し", "せ", "そ"),
    "つ": ("た", "ち", "て", "と", "っ"),
    "ぬ": ("な", "に", "ね", "の", "ん"),
    "ぶ": ("ば", "び", "べ", "ぼ", "ん"),
    "む": ("ま", "み", "め", "も", "ん"),
    "る": ("ら", "り", "れ", "ろ", "っ"),
}
_ICHIDAN_ENDINGS = ("た", "て", "な", "ま", "ら", "れ", "よ", "ろ", "さ", "ず")
_ADJECTIVE_ENDINGS = ("く", "か", "け", "さ")


@dataclass(frozen=True)
class Sense:
    """One JMdict sense: its English glosses and the tags that decide whether to use it."""

    glosses: tuple[str, ...]
    misc: frozenset[str] = frozenset()
    fields: frozenset[str] = frozenset()
    only_kanji: frozenset[str] = frozenset()
    only_kana: frozenset[str] = frozenset()

    def applies_to(self, form: str, is_kanji_form: bool) -> bool:
        """False when the sense is restricted to other written forms (stagk / stagr)."""
        restriction = self.only_kanji if is_kanji_form else self.only_kana
        return not restriction or form in restriction


@dataclass(frozen=True)
class Form:
    """One written form of an entry (a kanji spelling or a kana reading)."""

    text: str
    idseq: int
    is_kanji: bool
    tier: int
    """0: marked common (ichi1/news1/spec1/gai1), 1: frequent (…2), 2: neither."""
    no_kanji: bool = False


@dataclass(frozen=True)
class Entry:
    """One JMdict entry: its senses, in order, and part-of-speech tags of all of them."""

    senses: tuple[Sense, ...]
    pos: frozenset[str] = field(default_factory=frozenset)
    has_kanji: bool = False

    @property
    def restricted(self) -> bool:
        """Some sense applies to some written forms only (so glosses differ per form)."""
        return any(sense.only_kanji or sense.only_kana for sense in self.senses)

    @property
    def usually_kana(self) -> bool:
        """JMdict says the word is usually written in kana alone."""
        return any(_USUALLY_KANA in sense.misc for sense in self.senses[:1])


@dataclass(frozen=True)
class JmdictSource:
    """Where JMdict comes from: an installed ``jamdict-data``, or an explicit file (tests).

    Attributes:
        package: The import name of the package that ships the database.
        path: Use this database (``.db`` or ``.db.xz``) instead of looking the package up.
    """

    package: str = PACKAGE
    path: Path | None = None

    language = "ja"
    name = NAME
    install_hint_package = DISTRIBUTION

    def locate(self) -> Path:
        """The database file (possibly ``.xz``-compressed).

        Raises:
            DictionaryMissingError: ``jamdict-data`` (the ``ja`` extra) is not installed.
        """
        if self.path is not None:
            if not self.path.is_file():
                raise DictionaryMissingError(missing_message())
            return self.path
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise DictionaryMissingError(missing_message())
        for folder in spec.submodule_search_locations:
            for name in DB_NAMES:
                candidate = Path(folder) / name
                if candidate.is_file():
                    return candidate
        raise DictionaryMissingError(missing_message())

    def identity(self) -> str:
        """Names this exact source (package version and file size) for the cache file name."""
        path = self.locate()
        return f"{_package_version()}-{path.stat().st_size}"

    def build(self, scratch: Path) -> DictionaryMap:
        """Read the database into a :class:`DictionaryMap` (several seconds).

        Args:
            scratch: A folder for the decompressed database when the package ships it
                compressed; the copy is deleted afterwards.
        """
        path = self.locate()
        with _readable_database(path, scratch) as database:
            connection = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
            try:
                version = _meta(connection, "jmdict.version")
                entries = build_entries(connection)
            finally:
                connection.close()
        source = f"{DISTRIBUTION} {_package_version()}"
        if version:
            source += f", JMdict {version}"
        return DictionaryMap.create(NAME, source, entries)


def missing_message() -> str:
    """The user-facing text for a missing JMdict."""
    return (
        f"Japanese queries are searched as typed: the {NAME} dictionary (Python package "
        f"{DISTRIBUTION!r}, the 'ja' extra) is not installed. Install it with: {INSTALL_HINT}"
    )


def build_entries(connection: sqlite3.Connection) -> dict[str, str]:
    """Headword (kanji spellings, common kana words, conjugation stems, lone kanji) -> English.

    Args:
        connection: An open jamdict database.
    """
    entries = _read_entries(connection)
    forms = list(_read_forms(connection))
    words = choose_glosses(forms, entries)
    for stem, english in conjugation_stems(forms, entries, words):
        words.setdefault(stem, english)
    for char, english in _kanji_meanings(connection):
        words.setdefault(char, english)
    return words


def choose_glosses(forms: Iterable[Form], entries: dict[int, Entry]) -> dict[str, str]:
    """Each usable written form -> the English of its best-ranked entry."""
    best: dict[str, tuple[tuple[int, int, int], str]] = {}
    unrestricted: dict[int, str | None] = {}
    for form in forms:
        entry = entries.get(form.idseq)
        if entry is None or not _is_headword(form, entry):
            continue
        if entry.restricted:
            english = form_gloss(form, entry)
        else:
            if form.idseq not in unrestricted:
                unrestricted[form.idseq] = form_gloss(form, entry)
            english = unrestricted[form.idseq]
        if english is None:
            continue
        rank = (form.tier, 0 if form.is_kanji or _kana_is_primary(form, entry) else 1, form.idseq)
        current = best.get(form.text)
        if current is None or rank < current[0]:
            best[form.text] = (rank, english)
    return {text: english for text, (_, english) in best.items()}


def form_gloss(form: Form, entry: Entry) -> str | None:
    """The candidate senses of ``form`` (encoded), one per JMdict sense that applies to it.

    Each sense contributes its first usable gloss; a sense in JMdict's "computing" field is
    marked, as CC-CEDICT's "(computing)" label is. ``None`` when no sense is usable.
    """
    candidates: dict[str, bool] = {}
    for sense in entry.senses:
        if sense.misc & _SKIPPED_MISC or not sense.applies_to(form.text, form.is_kanji):
            continue
        english = first_usable_sense(sense.glosses)
        if english is not None and SEPARATOR not in english:
            candidates[english] = candidates.get(english, False) or "computing" in sense.fields
        if len(candidates) >= MAX_SENSES:
            break
    if not candidates:
        return None
    return encode_candidates(
        Candidate(text, computing, i) for i, (text, computing) in enumerate(candidates.items())
    )


def conjugation_stems(
    forms: Iterable[Form], entries: dict[int, Entry], words: dict[str, str]
) -> Iterator[tuple[str, str]]:
    """(stem, English) for the kanji spellings of verbs and i-adjectives.

    Only spellings that start with a kanji get stems: a kana-only stem such as ``か`` would
    match inside unrelated words.
    """
    for form in forms:
        english = words.get(form.text)
        entry = entries.get(form.idseq)
        if english is None or entry is None or not form.is_kanji or not is_han(form.text[0]):
            continue
        for stem in stems_of(form.text, entry.pos):
            yield stem, english


def stems_of(word: str, pos: Iterable[str]) -> list[str]:
    """The conjugation stems of dictionary-form ``word`` given its part-of-speech tags.

    >>> stems_of("読む", ["Godan verb with 'mu' ending"])
    ['読ま', '読み', '読め', '読も', '読ん']
    """
    stems: list[str] = []
    base, last = word[:-1], word[-1]
    for tag in pos:
        if tag.startswith("Godan verb") and last in _GODAN_STEMS:
            stems += [base + ending for ending in _GODAN_STEMS[last]]
            if "Iku/Yuku" in tag:
                stems.append(base + "っ")
        elif tag.startswith("Ichidan verb") and last == "る":
            stems += [base] if len(base) > 1 else [base + ending for ending in _ICHIDAN_ENDINGS]
        elif tag == "adjective (keiyoushi)" and last == "い":
            stems += [base + ending for ending in _ADJECTIVE_ENDINGS]
    return sorted(set(stems))


def _is_headword(form: Form, entry: Entry) -> bool:
    """Whether ``form`` may be matched in a query at all."""
    if not is_cjk_word(form.text):
        return False
    if form.is_kanji or not is_hiragana_word(form.text):
        return len(form.text) > 1 or not is_kana(form.text)
    # Hiragana-only: particles and grammar live here; keep common kana-first words only.
    return len(form.text) > 1 and form.tier < 2 and _kana_is_primary(form, entry)


def _kana_is_primary(form: Form, entry: Entry) -> bool:
    return not entry.has_kanji or form.no_kanji or entry.usually_kana


def _read_entries(connection: sqlite3.Connection) -> dict[int, Entry]:
    glosses = _grouped(connection, "SELECT sid, text FROM SenseGloss WHERE lang = 'eng'")
    misc = _grouped(connection, "SELECT sid, text FROM misc")
    fields = _grouped_if_present(connection, "SELECT sid, text FROM field")
    pos = _grouped(connection, "SELECT sid, text FROM pos")
    stagk = _grouped(connection, "SELECT sid, text FROM stagk")
    stagr = _grouped(connection, "SELECT sid, text FROM stagr")
    with_kanji = {row[0] for row in connection.execute("SELECT DISTINCT idseq FROM Kanji")}
    senses: defaultdict[int, list[Sense]] = defaultdict(list)
    tags: defaultdict[int, set[str]] = defaultdict(set)
    for sid, idseq in connection.execute("SELECT ID, idseq FROM Sense ORDER BY ID"):
        senses[idseq].append(
            Sense(
                glosses=tuple(glosses.get(sid, ())),
                misc=frozenset(misc.get(sid, ())),
                fields=frozenset(fields.get(sid, ())),
                only_kanji=frozenset(stagk.get(sid, ())),
                only_kana=frozenset(stagr.get(sid, ())),
            )
        )
        tags[idseq].update(pos.get(sid, ()))
    return {
        idseq: Entry(tuple(items), frozenset(tags[idseq]), idseq in with_kanji)
        for idseq, items in senses.items()
    }


def _read_forms(connection: sqlite3.Connection) -> Iterator[Form]:
    kanji_tags = _grouped(connection, "SELECT kid, text FROM KJP")
    kana_tags = _grouped(connection, "SELECT kid, text FROM KNP")
    for kid, idseq, text in connection.execute("SELECT ID, idseq, text FROM Kanji ORDER BY ID"):
        yield Form(text, idseq, True, _tier(kanji_tags.get(kid, ())))
    query = "SELECT ID, idseq, text, nokanji FROM Kana ORDER BY ID"
    for kid, idseq, text, nokanji in connection.execute(query):
        yield Form(text, idseq, False, _tier(kana_tags.get(kid, ())), bool(nokanji))


def _kanji_meanings(connection: sqlite3.Connection) -> Iterator[tuple[str, str]]:
    """KANJIDIC2's usable English meanings of each kanji (the last-resort fallback)."""
    query = (
        "SELECT c.literal, m.value FROM character c JOIN rm_group g ON g.cid = c.ID "
        "JOIN meaning m ON m.gid = g.ID WHERE m.m_lang = '' ORDER BY c.ID, m.rowid"
    )
    meanings: dict[str, list[str]] = defaultdict(list)
    try:
        for literal, value in connection.execute(query):
            meanings[literal].append(value)
    except sqlite3.DatabaseError:
        return
    for literal, values in meanings.items():
        candidates = usable_senses(values, limit=3)
        if candidates and is_han(literal):
            yield literal, encode_candidates(candidates)


def _grouped_if_present(connection: sqlite3.Connection, query: str) -> dict[int, list[str]]:
    """As :func:`_grouped`; empty when the table is missing (a trimmed database)."""
    try:
        return _grouped(connection, query)
    except sqlite3.OperationalError:
        return {}


def _grouped(connection: sqlite3.Connection, query: str) -> dict[int, list[str]]:
    groups: defaultdict[int, list[str]] = defaultdict(list)
    for key, text in connection.execute(query + " ORDER BY rowid"):
        groups[key].append(text)
    return groups


def _tier(tags: Iterable[str]) -> int:
    found = set(tags)
    if found & _COMMON_TAGS:
        return 0
    if found & _FREQUENT_TAGS:
        return 1
    return 2


def _meta(connection: sqlite3.Connection, key: str) -> str | None:
    try:
        row = connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    except sqlite3.DatabaseError:
        return None
    return str(row[0]) if row else None


@contextlib.contextmanager
def _readable_database(path: Path, scratch: Path) -> Iterator[Path]:
    """``path`` itself, or a decompressed temporary copy of an ``.xz`` database."""
    if path.suffix != ".xz":
        yield path
        return
    scratch.mkdir(parents=True, exist_ok=True)
    target = scratch / "jamdict.db"
    try:
        with atomic_path(target) as tmp, lzma.open(path) as source, open(tmp, "wb") as sink:
            shutil.copyfileobj(source, sink, length=1 << 20)
        yield target
    finally:
        with contextlib.suppress(OSError):
            target.unlink()


def _package_version() -> str:
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
