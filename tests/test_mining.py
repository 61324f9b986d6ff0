"""Tests of docstring mining: a small real repository in eleven languages, and doc cleaning."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from codefind.mining import (
    MinedPair,
    clean_doc,
    is_boilerplate,
    is_test_path,
    mine_pairs,
    word_count,
)
from tests.gitutil import git

# A repository with one documented function per language, and functions that must be
# skipped: a dunder, a TODO doc, a doc of two words, a body of one line, a repeated doc,
# a "Constructor." doc, and a test file.
REPO: dict[str, str] = {
    "cmd/config.go": r"""package cmd

import "os"

// ParseConfig reads the config file at path and fills in defaults.
// It never returns a nil config.
func ParseConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return &Config{}, err
	}
	return decode(data), nil
}
""",
    "native/Ledger.java": r"""public class Ledger {
    /**
     * Returns the balance after applying all {@code entries} in order.
     * @return the balance
     */
    public long balance(List<Long> entries) {
        long total = 0;
        for (long e : entries) total += e;
        return total;
    }
}
""",
    "native/Mailer.cs": r"""public class Mailer
{
    /// <summary>
    /// Sends a message to every recipient in the list.
    /// </summary>
    /// <param name="recipients">Who gets it.</param>
    public void SendAll(IEnumerable<string> recipients)
    {
        foreach (var r in recipients)
            Send(r);
    }
}
""",
    "native/backup.sh": r"""#!/bin/bash
# Copies the database dump to the backup server.
backup_db() {
  pg_dump app > /tmp/app.sql
  scp /tmp/app.sql backup:/dumps/
}
""",
    "native/hash.c": r"""/**
 * Computes a 32-bit FNV-1a hash of a string.
 */
unsigned fnv1a(const char *s)
{
    unsigned h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}
""",
    "native/lib.rs": r"""/// Splits a [`Path`] into its non-empty components.
///
/// # Examples
/// ```
/// let parts = split_path("/a/b");
/// ```
pub fn split_path(path: &str) -> Vec<&str> {
    path.split('/')
        .filter(|part| !part.is_empty())
        .collect()
}
""",
    "native/queue.rb": r"""class JobQueue
  # Pops the next job, waiting up to timeout seconds.
  def pop(timeout)
    job = @jobs.shift
    job || wait(timeout)
  end
end
""",
    "native/upload.php": r"""<?php
/**
 * Stores an uploaded file under the user's folder.
 *
 * @param array $file The upload.
 */
function store_upload(array $file, int $userId): string
{
    $target = "uploads/$userId/" . basename($file['name']);
    move_uploaded_file($file['tmp_name'], $target);
    return $target;
}
""",
    "native/vec.cpp": r"""// Normalizes the vector to unit length in place.
void Vec::normalize() {
    double n = length();
    x /= n;
    y /= n;
}
""",
    "src/billing.py": r'''"""Billing helpers."""

from decimal import Decimal


def apply_discount(amount: Decimal, percent: int) -> Decimal:
    """Reduce an amount by a percentage, rounding to cents.

    Args:
        amount: The original amount.
        percent: Whole percent to take off.

    Returns:
        The discounted amount.
    """
    factor = Decimal(100 - percent) / 100
    return (amount * factor).quantize(Decimal("0.01"))


class Invoice:
    """An invoice with line items."""

    def __init__(self) -> None:
        """Create an empty invoice."""
        self.lines: list[tuple[str, Decimal]] = []
        self.paid = False

    def total(self) -> Decimal:
        """Sum the amounts of all :class:`Invoice` lines."""
        amounts = [amount for _, amount in self.lines]
        return sum(amounts, Decimal(0))

    def pay(self) -> None:
        """TODO: call the payment gateway."""
        self.paid = True
        self.lines.clear()

    def is_paid(self) -> bool:
        """Whether it is paid."""
        return self.paid

    def refund(self) -> None:
        """Give the money back to the customer.

        Only for paid invoices.
        """
        if not self.paid:
            raise ValueError("not paid")
        self.paid = False

    def reset(self) -> None:
        """Reset it."""
        self.lines = []
        self.paid = False

    def copy_refund(self) -> None:
        """Give the money back to the customer."""
        self.refund()
        self.lines = []


# Convert a currency amount to a display string with a symbol.
def format_money(amount: Decimal, symbol: str = "$") -> str:
    text = f"{amount:,.2f}"
    return f"{symbol}{text}"
''',
    "tests/test_billing.py": r'''def test_discount_is_applied_to_the_amount():
    """Check that the discount is applied to the amount."""
    from src.billing import apply_discount
    assert apply_discount(100, 10) == 90
''',
    "web/api.ts": r"""export class Api {
  /**
   * Fetches a user profile by id from the server.
   */
  async fetchUser(id: string): Promise<User> {
    const response = await fetch(`/users/${id}`);
    return response.json();
  }
}
""",
    "web/cart.js": r"""/**
 * Computes the cart total including shipping, see {@link Cart}.
 * @param {Cart} cart The cart.
 * @returns {number} The total.
 */
export function cartTotal(cart) {
  const items = cart.items.reduce((sum, item) => sum + item.price, 0);
  return items + cart.shipping;
}

/** Constructor. */
export function makeCart() {
  const cart = { items: [], shipping: 0 };
  return cart;
}
""",
}

EXPECTED = {
    ("cmd/config.go", "ParseConfig", "reads the config file at path and fills in defaults"),
    (
        "native/Ledger.java",
        "Ledger.balance",
        "Returns the balance after applying all entries in order",
    ),
    ("native/Mailer.cs", "Mailer.SendAll", "Sends a message to every recipient in the list"),
    ("native/backup.sh", "backup_db", "Copies the database dump to the backup server"),
    ("native/hash.c", "fnv1a", "Computes a 32-bit FNV-1a hash of a string"),
    ("native/lib.rs", "split_path", "Splits a Path into its non-empty components"),
    ("native/queue.rb", "JobQueue.pop", "Pops the next job, waiting up to timeout seconds"),
    ("native/upload.php", "store_upload", "Stores an uploaded file under the user's folder"),
    ("native/vec.cpp", "Vec.normalize", "Normalizes the vector to unit length in place"),
    ("src/billing.py", "apply_discount", "Reduce an amount by a percentage, rounding to cents"),
    ("src/billing.py", "Invoice.total", "Sum the amounts of all Invoice lines"),
    ("src/billing.py", "Invoice.refund", "Give the money back to the customer"),
    (
        "src/billing.py",
        "format_money",
        "Convert a currency amount to a display string with a symbol",
    ),
    ("web/api.ts", "Api.fetchUser", "Fetches a user profile by id from the server"),
    ("web/cart.js", "cartTotal", "Computes the cart total including shipping, see Cart"),
}


@pytest.fixture
def mined(git_repo: Callable[..., Path]) -> list[MinedPair]:
    root = git_repo(REPO)
    pairs: list[MinedPair] = []
    for rel in git(root, "ls-files").splitlines():
        pairs.extend(mine_pairs(rel, (root / rel).read_text(encoding="utf-8")))
    return pairs


def test_expected_pairs_are_mined_and_nothing_else(mined: list[MinedPair]) -> None:
    assert {(p.path, p.symbol, p.query) for p in mined} == EXPECTED


def test_doc_is_absent_from_the_code(mined: list[MinedPair]) -> None:
    for pair in mined:
        source_lines = REPO[pair.path].split("\n")
        assert pair.query not in pair.code
        for marker in ('"""', "/**", "///", "<summary>", "@param", "Args:", "# Copies", "// "):
            assert marker not in pair.code, (pair.symbol, marker)
        # What is left is the function's own lines, in order, from its first line.
        code_lines = pair.code.split("\n")
        assert code_lines[0] == source_lines[pair.start_line - 1]
        assert code_lines[-1] == source_lines[pair.end_line - 1]
        assert all(line in source_lines for line in code_lines)


def test_python_docstring_is_cut_from_the_body(mined: list[MinedPair]) -> None:
    discount = next(p for p in mined if p.symbol == "apply_discount")
    assert discount.code == (
        "def apply_discount(amount: Decimal, percent: int) -> Decimal:\n"
        "    factor = Decimal(100 - percent) / 100\n"
        '    return (amount * factor).quantize(Decimal("0.01"))'
    )
    assert (discount.start_line, discount.end_line, discount.language) == (6, 17, "python")


def test_leading_comment_is_left_out_of_the_code(mined: list[MinedPair]) -> None:
    config = next(p for p in mined if p.symbol == "ParseConfig")
    assert config.code.startswith("func ParseConfig(path string) (*Config, error) {")
    assert config.start_line == 7
    assert config.language == "go"


def test_test_files_and_unsupported_files_give_nothing() -> None:
    assert mine_pairs("tests/test_billing.py", REPO["tests/test_billing.py"]) == []
    doc = "# Adds two numbers and returns their sum.\nfun add(a: Int, b: Int): Int {\n"
    assert mine_pairs("src/Math.kt", doc + "  val s = a + b\n  return s\n}\n") == []


def test_test_functions_are_skipped_outside_test_files() -> None:
    text = (
        "def test_refund_restores_the_balance():\n"
        '    """Refunding a paid invoice restores the balance."""\n'
        "    invoice = make_invoice()\n"
        "    invoice.refund()\n"
    )
    assert mine_pairs("src/checks.py", text) == []


def test_mining_never_raises_on_garbage() -> None:
    garbage = "/** */ def class fn func ((( {{{ \x00 \"\"\" ''' \n" * 20
    for path in ("a.py", "a.js", "a.go", "a.rs", "A.java", "a.cs", "a.rb", "a.php", "a.c"):
        assert isinstance(mine_pairs(path, garbage), list)


@pytest.mark.parametrize(
    ("raw", "query"),
    [
        (
            "Load settings from a TOML file.\n\n    Args:\n        path: Where.\n",
            "Load settings from a TOML file",
        ),
        (
            "Parse the header.\n\n    Parameters\n    ----------\n    data : bytes\n",
            "Parse the header",
        ),
        (
            "Open the :class:`Store` at ``path``.\n\n:param path: the path\n",
            "Open the Store at path",
        ),
        (
            "/**\n * Merges two {@link Range ranges} into one.\n * @param a first\n */",
            "Merges two ranges into one",
        ),
        ("/** Returns {@code true} when empty. */", "Returns true when empty"),
        (
            '/// <summary>\n/// Finds a <see cref="Shop.Order"/> by its number.\n'
            '/// </summary>\n/// <param name="n">The number.</param>',
            "Finds a Order by its number",
        ),
        (
            "/// Reads [`Config`] from [the disk](https://x.y).\n/// More.",
            "Reads Config from the disk",
        ),
        (
            "// Retry calls f until it succeeds. It sleeps between tries.",
            "Retry calls f until it succeeds",
        ),
        (
            "# Use e.g. a cache to speed up lookups.\n# Second line.",
            "Use e.g. a cache to speed up lookups",
        ),
        ("Compute **weighted** mean of `xs`.", "Compute weighted mean of xs"),
        ("计算订单的总价。不含运费。", "计算订单的总价"),
    ],
)
def test_clean_doc_keeps_the_first_sentence_as_plain_text(raw: str, query: str) -> None:
    assert clean_doc(raw) == query


def test_word_count_counts_cjk_by_pairs_of_characters() -> None:
    assert word_count("Save the file") == 3
    assert word_count("计算订单的总价") == 3
    assert word_count("x = 1") == 2


@pytest.mark.parametrize(
    "query",
    [
        "TODO: rewrite",
        "Constructor",
        "Getter for the name",
        "See Store.save",
        "Deprecated since 2.0",
        "Returns the value",
        "Creates a new instance",
        "Usage: tool FILE",
        "Helper function",
    ],
)
def test_boilerplate_is_recognised(query: str) -> None:
    assert is_boilerplate(query)


@pytest.mark.parametrize(
    "query",
    [
        "Returns the value of the largest bucket",
        "Saves the store to disk",
        "See if the cache is warm",
    ],
)
def test_real_docs_are_not_boilerplate(query: str) -> None:
    assert not is_boilerplate(query)


@pytest.mark.parametrize(
    ("path", "is_test"),
    [
        ("tests/test_store.py", True),
        ("pkg/store_test.go", True),
        ("src/cart.test.ts", True),
        ("src/__tests__/cart.js", True),
        ("src/test/java/com/x/StoreTest.java", True),
        ("spec/models/user_spec.rb", True),
        ("src/store.py", False),
        ("src/contest.py", False),
        ("src/latest/notes.go", False),
    ],
)
def test_is_test_path(path: str, is_test: bool) -> None:
    assert is_test_path(path) is is_test
