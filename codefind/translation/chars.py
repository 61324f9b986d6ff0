"""Which script a character belongs to: the translator's only notion of "language".

Query translation must decide, per character and without a language model, whether text is
Chinese, Japanese or something to leave alone. Unicode blocks are enough for that: kana only
occur in Japanese, Han characters occur in both, everything ASCII is kept as typed.
"""

from __future__ import annotations

import re

_HAN_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f々〆〇"
"""Han ideographs: Extension A, the main block, compatibility ideographs, Extensions B-F."""
_KANA_CLASS = "\u3041-\u309f\u30a0-\u30fb\u30fd-\u30ff\u31f0-\u31ff"
"""Hiragana and katakana, without the prolonged sound mark ー (which alone says nothing)."""
_HAN = re.compile(f"[{_HAN_CLASS}]")
_KANA = re.compile(f"[{_KANA_CLASS}]")
_PROLONGED_SOUND_MARK = "ー"


def is_han(char: str) -> bool:
    """True for a Han ideograph (hanzi / kanji), including the iteration mark 々."""
    return _HAN.match(char) is not None


def is_hiragana(char: str) -> bool:
    """True for a hiragana letter."""
    return "\u3041" <= char <= "\u309f"


def is_katakana(char: str) -> bool:
    """True for a katakana letter or the prolonged sound mark ー."""
    return "\u30a0" <= char <= "\u30ff" or "\u31f0" <= char <= "\u31ff"


def is_kana(char: str) -> bool:
    """True for hiragana or katakana."""
    return is_hiragana(char) or is_katakana(char)


def has_kana(text: str) -> bool:
    """True when ``text`` holds any hiragana or katakana (and so is treated as Japanese)."""
    return _KANA.search(text) is not None


def has_han(text: str) -> bool:
    """True when ``text`` holds any Han ideograph."""
    return _HAN.search(text) is not None


CJK_CLASS = f"{_HAN_CLASS}{_KANA_CLASS}{_PROLONGED_SOUND_MARK}"
"""A regular-expression character class (without brackets) of Han characters and kana."""
_CJK_WORD = re.compile(f"[{CJK_CLASS}]+")


_HIRAGANA_WORD = re.compile("[\u3041-\u309f]+")


def is_hiragana_word(text: str) -> bool:
    """True when ``text`` is non-empty and made of hiragana only."""
    return _HIRAGANA_WORD.fullmatch(text) is not None


def is_cjk_word(text: str) -> bool:
    """True when ``text`` is non-empty and made of Han characters and kana only."""
    return _CJK_WORD.fullmatch(text) is not None
