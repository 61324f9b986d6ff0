"""Identifier splitting and query tokens, as the BM25 index sees them."""

from __future__ import annotations

import pytest

from codefind.lexical import (
    identifier_key,
    looks_like_identifier,
    name_in_query,
    query_tokens,
    split_identifier,
    tokens,
)


@pytest.mark.parametrize(
    ("word", "parts"),
    [
        ("parseHTTPResponse", ["parse", "http", "response"]),
        ("snake_case", ["snake", "case"]),
        ("SCREAMING_CASE_2", ["screaming", "case", "2"]),
        ("XMLHttpRequest", ["xml", "http", "request"]),
        ("utf8Decode", ["utf", "8", "decode"]),
        ("plain", ["plain"]),
    ],
)
def test_split_identifier(word: str, parts: list[str]) -> None:
    assert split_identifier(word) == parts


def test_tokens_keep_the_whole_identifier_for_exact_matches() -> None:
    assert tokens("def load_config(path):") == ["def", "load", "config", "loadconfig", "path"]


def test_cjk_runs_become_bigrams() -> None:
    assert tokens("读取文件") == ["读取", "取文", "文件"]
    assert tokens("读") == ["读"]
    assert tokens("读取CSV文件") == ["读取", "csv", "文件"]


def test_query_tokens_drop_stop_words_and_duplicates() -> None:
    assert query_tokens("how to read a file, read it") == ["read", "file"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("load_config", True),
        ("Store.save", True),
        ("parseURL", True),
        ("std::vector", True),
        ("sort a list", False),
        ("sort", False),
        ("", False),
    ],
)
def test_looks_like_identifier(query: str, expected: bool) -> None:
    assert looks_like_identifier(query) is expected


def test_name_in_query_accepts_identifiers_and_single_words_only() -> None:
    assert name_in_query("load_config") == "loadconfig"
    assert name_in_query("dedent") == "dedent"
    assert name_in_query("Store.save") == "save"
    assert name_in_query("sort a list") is None
    assert name_in_query("读取") is None


def test_identifier_key_compares_names_across_styles() -> None:
    assert identifier_key("Store.save") == identifier_key("save") == "save"
    assert identifier_key("load_config") == identifier_key("loadConfig") == "loadconfig"
