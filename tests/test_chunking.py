"""Tests of the chunker: real code per language, splitting, odd input, and a property test.

Expected chunks were checked by hand against the snippets; line numbers are 1-based and
inclusive, as stored in the index and printed by the CLI.
"""

from __future__ import annotations

import itertools
import logging
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codefind.chunking import (
    MAX_CHUNK_CHARS,
    SYNTAX_LANGUAGES,
    chunk_file,
    detect_language,
    embedding_text,
)
from codefind.models import Chunk, SymbolDef

# One realistic file per language with a grammar: classes with methods, free functions,
# doc comments, module-level code.
SOURCES: dict[str, str] = {
    "store.py": r'''"""Key-value storage on disk."""

import json
from pathlib import Path

DEFAULT_NAME = "store.json"


class Store:
    """A JSON file that holds string keys and values."""

    encoding = "utf-8"
    indent: int = 2

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, str] = {}

    # Writes atomically so a crash never leaves half a file.
    @staticmethod
    def _atomic_write(path: Path, text: str) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)

    def save(self) -> None:
        """Write all entries to disk."""
        self._atomic_write(self.path, json.dumps(self.data, indent=self.indent))


def load(path: Path) -> Store:
    """Read a store from ``path``."""
    store = Store(path)
    store.data = json.loads(path.read_text())
    return store


if __name__ == "__main__":
    print(load(Path(DEFAULT_NAME)).data)
''',
    "cart.js": r"""import { formatPrice } from "./format.js";

const TAX_RATE = 0.2;

/**
 * A shopping cart that keeps line items.
 */
export class Cart {
  items = [];

  /**
   * Adds a product to the cart.
   * @param {object} product The product.
   */
  add(product, quantity = 1) {
    this.items.push({ product, quantity });
  }

  total() {
    return this.items.reduce((sum, it) => sum + it.product.price * it.quantity, 0);
  }
}

// Formats the total with tax for display.
export function totalWithTax(cart) {
  return formatPrice(cart.total() * (1 + TAX_RATE));
}

export const emptyCart = () => new Cart();
""",
    "client.ts": r"""import type { Request } from "./types";

export interface ClientOptions {
  baseUrl: string;
  retries?: number;
}

/** Calls the HTTP API with retries. */
export class ApiClient {
  private readonly options: ClientOptions;

  constructor(options: ClientOptions) {
    this.options = options;
  }

  async get<T>(path: string): Promise<T> {
    const response = await fetch(this.options.baseUrl + path);
    return (await response.json()) as T;
  }
}

export function buildRequest(path: string): Request {
  return { path, method: "GET" };
}
""",
    "Button.tsx": r"""import React from "react";

type Props = { label: string; onClick: () => void };

/** A button with a label. */
export function Button({ label, onClick }: Props) {
  return <button onClick={onClick}>{label}</button>;
}

export const IconButton = ({ label }: { label: string }) => {
  return <Button label={label} onClick={() => {}} />;
};
""",
    "server.go": r"""package server

import (
	"fmt"
	"net/http"
)

// Server answers health checks.
type Server struct {
	addr string
	mux  *http.ServeMux
}

// NewServer returns a server listening on addr.
func NewServer(addr string) *Server {
	return &Server{addr: addr, mux: http.NewServeMux()}
}

// Health reports whether the server is up.
// It always writes "ok".
func (s *Server) Health(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintln(w, "ok")
}

func (s Server) Addr() string { return s.addr }
""",
    "lib.rs": r"""use std::collections::HashMap;

/// An in-memory cache with a capacity.
#[derive(Debug, Default)]
pub struct Cache {
    entries: HashMap<String, String>,
    capacity: usize,
}

impl Cache {
    /// Creates an empty cache.
    pub fn new(capacity: usize) -> Self {
        Cache { entries: HashMap::new(), capacity }
    }

    /// Looks up a key.
    pub fn get(&self, key: &str) -> Option<&String> {
        self.entries.get(key)
    }
}

pub trait Evict {
    fn evict(&mut self);
}

/// Hashes a key with FNV-1a.
pub fn fnv1a(key: &str) -> u64 {
    key.bytes().fold(0xcbf29ce484222325, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}
""",
    "OrderService.java": r"""package com.shop.orders;

import java.util.ArrayList;
import java.util.List;

/**
 * Keeps orders and totals them.
 */
public class OrderService {
    private final List<Order> orders = new ArrayList<>();

    /** Creates an empty service. */
    public OrderService() {
    }

    /**
     * Places an order.
     * @param order the order
     */
    @Transactional
    public void place(Order order) {
        orders.add(order);
    }

    public interface Listener {
        void onPlaced(Order order);
    }
}
""",
    "buffer.c": r"""#include <stdlib.h>
#include <string.h>

/* A growable byte buffer. */
struct buffer {
    char *data;
    size_t len;
};

/**
 * Appends n bytes to the buffer.
 */
int buffer_append(struct buffer *b, const char *bytes, size_t n)
{
    char *grown = realloc(b->data, b->len + n);
    if (!grown)
        return -1;
    memcpy(grown + b->len, bytes, n);
    b->data = grown;
    b->len += n;
    return 0;
}

static void buffer_free(struct buffer *b) { free(b->data); }
""",
    "shapes.cpp": r"""#include <cmath>

namespace geo {

// A circle with a radius.
class Circle : public Shape {
public:
    explicit Circle(double r) : radius(r) {}

    double area() const override {
        return M_PI * radius * radius;
    }

private:
    double radius;
};

double Circle::perimeter() const {
    return 2 * M_PI * radius;
}

}  // namespace geo
""",
    "account.rb": r"""require "bigdecimal"

module Bank
  # An account with a balance.
  class Account
    attr_reader :balance

    def initialize(balance = 0)
      @balance = BigDecimal(balance.to_s)
    end

    # Moves money to another account.
    def transfer(to, amount)
      raise ArgumentError, "insufficient funds" if amount > balance
      @balance -= amount
      to.deposit(amount)
    end

    def self.open(owner)
      new(0)
    end
  end
end
""",
    "UserRepository.php": r"""<?php

namespace App\Repositories;

use App\Models\User;

/**
 * Loads users from the database.
 */
class UserRepository
{
    private $db;

    public function __construct($db)
    {
        $this->db = $db;
    }

    /**
     * Finds a user by e-mail address.
     */
    public function findByEmail(string $email): ?User
    {
        $row = $this->db->fetch("SELECT * FROM users WHERE email = ?", [$email]);
        return $row ? new User($row) : null;
    }
}

function normalize_email(string $email): string
{
    return strtolower(trim($email));
}
""",
    "Inventory.cs": r"""using System.Collections.Generic;

namespace Shop.Inventory
{
    /// <summary>Tracks stock per product.</summary>
    public class StockLedger
    {
        private readonly Dictionary<string, int> stock = new();

        /// <summary>Adds units of a product.</summary>
        public void Receive(string sku, int units)
        {
            stock[sku] = Count(sku) + units;
        }

        public int Count(string sku) => stock.TryGetValue(sku, out var n) ? n : 0;
    }
}
""",
    "deploy.sh": r"""#!/usr/bin/env bash
set -euo pipefail

TARGET="${1:-staging}"

# Builds the release archive.
build() {
  make clean
  make release
}

function upload {
  scp dist/app.tar.gz "deploy@$TARGET:/srv/app/"
}

build
upload
""",
}


EXPECTED: dict[str, list[tuple[int, int, str, str]]] = {
    "store.py": [
        (1, 6, "module", ""),
        (9, 13, "class", "Store"),
        (15, 17, "method", "Store.__init__"),
        (19, 24, "method", "Store._atomic_write"),
        (26, 28, "method", "Store.save"),
        (31, 35, "function", "load"),
        (38, 39, "module", ""),
    ],
    "cart.js": [
        (1, 3, "module", ""),
        (5, 9, "class", "Cart"),
        (11, 17, "method", "Cart.add"),
        (19, 22, "method", "Cart.total"),
        (24, 27, "function", "totalWithTax"),
        (29, 29, "function", "emptyCart"),
    ],
    "client.ts": [
        (1, 1, "module", ""),
        (3, 6, "class", "ClientOptions"),
        (8, 10, "class", "ApiClient"),
        (12, 14, "method", "ApiClient.constructor"),
        (16, 20, "method", "ApiClient.get"),
        (22, 24, "function", "buildRequest"),
    ],
    "Button.tsx": [
        (1, 1, "module", ""),
        (3, 3, "class", "Props"),
        (5, 8, "function", "Button"),
        (10, 12, "function", "IconButton"),
    ],
    "server.go": [
        (1, 6, "module", ""),
        (8, 12, "class", "Server"),
        (14, 17, "function", "NewServer"),
        (19, 23, "method", "Server.Health"),
        (25, 25, "method", "Server.Addr"),
    ],
    "lib.rs": [
        (1, 1, "module", ""),
        (3, 8, "class", "Cache"),
        (10, 10, "class", "impl Cache"),
        (11, 14, "method", "Cache.new"),
        (16, 20, "method", "Cache.get"),
        (22, 24, "class", "Evict"),
        (26, 29, "function", "fnv1a"),
    ],
    "OrderService.java": [
        (1, 4, "module", ""),
        (6, 10, "class", "OrderService"),
        (12, 14, "method", "OrderService.OrderService"),
        (16, 23, "method", "OrderService.place"),
        (25, 28, "class", "OrderService.Listener"),
    ],
    "buffer.c": [
        (1, 2, "module", ""),
        (4, 8, "class", "buffer"),
        (10, 22, "function", "buffer_append"),
        (24, 24, "function", "buffer_free"),
    ],
    "shapes.cpp": [
        (1, 3, "module", ""),
        (5, 7, "class", "Circle"),
        (8, 8, "method", "Circle.Circle"),
        (10, 12, "method", "Circle.area"),
        (14, 16, "class", "Circle"),
        (18, 20, "method", "Circle.perimeter"),
        (22, 22, "module", ""),
    ],
    "account.rb": [
        (1, 1, "module", ""),
        (3, 3, "class", "Bank"),
        (4, 6, "class", "Bank.Account"),
        (8, 10, "method", "Bank.Account.initialize"),
        (12, 17, "method", "Bank.Account.transfer"),
        (19, 23, "method", "Bank.Account.open"),
    ],
    "UserRepository.php": [
        (1, 5, "module", ""),
        (7, 12, "class", "UserRepository"),
        (14, 17, "method", "UserRepository.__construct"),
        (19, 27, "method", "UserRepository.findByEmail"),
        (29, 32, "function", "normalize_email"),
    ],
    "Inventory.cs": [
        (1, 4, "module", ""),
        (5, 8, "class", "StockLedger"),
        (10, 14, "method", "StockLedger.Receive"),
        (16, 18, "method", "StockLedger.Count"),
    ],
    "deploy.sh": [
        (1, 4, "module", ""),
        (6, 10, "function", "build"),
        (12, 14, "function", "upload"),
        (16, 17, "module", ""),
    ],
}

LANGUAGES = {
    "store.py": "python",
    "cart.js": "javascript",
    "client.ts": "typescript",
    "Button.tsx": "typescript",
    "server.go": "go",
    "lib.rs": "rust",
    "OrderService.java": "java",
    "buffer.c": "c",
    "shapes.cpp": "cpp",
    "account.rb": "ruby",
    "UserRepository.php": "php",
    "Inventory.cs": "csharp",
    "deploy.sh": "bash",
}


def file_lines(text: str) -> list[str]:
    """The file's lines as the chunker numbers them (a CRLF's ``\\r`` dropped)."""
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def assert_well_formed(text: str, chunks: list[Chunk], max_chars: int) -> None:
    """Chunks lie inside the file, hold its exact lines, fit the budget and cover it."""
    lines = file_lines(text)
    covered: set[int] = set()
    for chunk in chunks:
        assert 1 <= chunk.start_line <= chunk.end_line <= len(lines), chunk
        assert chunk.text.strip(), chunk
        assert len(chunk.text) <= max_chars, chunk
        whole = "\n".join(lines[chunk.start_line - 1 : chunk.end_line])
        if chunk.start_line == chunk.end_line and len(whole) > max_chars:
            assert chunk.text in whole  # a piece of an over-long line
        else:
            assert chunk.text == whole, chunk
        covered.update(range(chunk.start_line, chunk.end_line + 1))
    missing = [n for n, line in enumerate(lines, 1) if line.strip() and n not in covered]
    assert not missing, f"non-blank lines in no chunk: {missing}"


def shape(chunks: list[Chunk]) -> list[tuple[int, int, str, str]]:
    return [(c.start_line, c.end_line, c.kind, c.symbol) for c in chunks]


def by_symbol(chunks: list[Chunk], symbol: str) -> Chunk:
    return next(c for c in chunks if c.symbol == symbol)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def chunk_strictly(path: str, text: str, *, max_chars: int = MAX_CHUNK_CHARS) -> list[Chunk]:
    """``chunk_file``, failing the test if its safety net caught an exception."""
    handler = _Records()
    logger = logging.getLogger("codefind.chunking")
    logger.addHandler(handler)
    try:
        chunks = chunk_file(path, text, max_chars=max_chars)
    finally:
        logger.removeHandler(handler)
    assert not handler.records, [r.getMessage() for r in handler.records]
    return chunks


# --- one real file per language ------------------------------------------------------


def test_every_grammar_has_a_snippet() -> None:
    assert set(LANGUAGES.values()) == SYNTAX_LANGUAGES


@pytest.mark.parametrize("path", list(SOURCES))
def test_snippet_chunks(path: str) -> None:
    chunks = chunk_strictly(path, SOURCES[path])
    assert shape(chunks) == EXPECTED[path]
    assert {c.language for c in chunks} == {LANGUAGES[path]}
    assert all(c.path == path for c in chunks)
    assert_well_formed(SOURCES[path], chunks, MAX_CHUNK_CHARS)


def test_python_class_chunk_is_header_docstring_and_attributes() -> None:
    chunks = chunk_file("store.py", SOURCES["store.py"])
    store = next(c for c in chunks if c.kind == "class")
    assert store.text.splitlines() == [
        "class Store:",
        '    """A JSON file that holds string keys and values."""',
        "",
        '    encoding = "utf-8"',
        "    indent: int = 2",
    ]


@pytest.mark.parametrize(
    ("path", "symbol", "first_line"),
    [
        (
            "store.py",
            "Store._atomic_write",
            "    # Writes atomically so a crash never leaves half a file.",
        ),
        ("cart.js", "Cart.add", "  /**"),
        ("cart.js", "totalWithTax", "// Formats the total with tax for display."),
        ("client.ts", "ApiClient", "/** Calls the HTTP API with retries. */"),
        ("server.go", "Server.Health", "// Health reports whether the server is up."),
        ("lib.rs", "fnv1a", "/// Hashes a key with FNV-1a."),
        ("OrderService.java", "OrderService.place", "    /**"),
        ("buffer.c", "buffer_append", "/**"),
        ("account.rb", "Bank.Account.transfer", "    # Moves money to another account."),
        (
            "Inventory.cs",
            "StockLedger.Receive",
            "        /// <summary>Adds units of a product.</summary>",
        ),
        ("deploy.sh", "build", "# Builds the release archive."),
    ],
)
def test_doc_comments_above_belong_to_the_definition(
    path: str, symbol: str, first_line: str
) -> None:
    chunk = by_symbol(chunk_file(path, SOURCES[path]), symbol)
    assert chunk.text.splitlines()[0] == first_line


def test_decorators_and_attributes_belong_to_the_definition() -> None:
    atomic = by_symbol(chunk_file("store.py", SOURCES["store.py"]), "Store._atomic_write")
    assert "    @staticmethod" in atomic.text.splitlines()
    place = by_symbol(chunk_file("A.java", SOURCES["OrderService.java"]), "OrderService.place")
    assert "    @Transactional" in place.text.splitlines()
    cache = chunk_file("lib.rs", SOURCES["lib.rs"])[1]
    assert cache.text.splitlines()[:2] == [
        "/// An in-memory cache with a capacity.",
        "#[derive(Debug, Default)]",
    ]


def test_comment_after_blank_line_or_after_code_is_not_attached() -> None:
    text = "# Helpers.\n\nLIMIT = 3  # maximum\ndef clamp(x):\n    return min(x, LIMIT)\n"
    assert shape(chunk_file("h.py", text)) == [
        (1, 3, "module", ""),
        (4, 5, "function", "clamp"),
    ]


def test_leading_comment_with_unicode_and_tabs() -> None:
    text = (
        "package cart\n\n"
        "// Total 计算购物车的总价 (¥).\n"
        "func Total(prices []int) int {\n"
        "\tsum := 0 // 合计\n"
        "\tfor _, p := range prices {\n"
        "\t\tsum += p\n"
        "\t}\n"
        "\treturn sum\n"
        "}\n"
    )
    chunks = chunk_strictly("cart.go", text)
    assert shape(chunks) == [(1, 1, "module", ""), (3, 10, "function", "Total")]
    assert chunks[1].text.startswith("// Total 计算购物车的总价")


def test_nested_function_stays_in_its_parent() -> None:
    text = "def outer(xs):\n    def key(x):\n        return -x\n    return sorted(xs, key=key)\n"
    assert shape(chunk_file("n.py", text)) == [(1, 4, "function", "outer")]


def test_javascript_functions_defined_by_assignment_or_default_export() -> None:
    text = (
        "export default function () {\n  return render();\n}\n\n"
        "Store.prototype.save = function (key) {\n  this.dirty = true;\n};\n\n"
        "module.exports.parse = (text) => JSON.parse(text);\n\n"
        "class Panel {\n  onClick = (event) => {\n    this.open = !this.open;\n  };\n}\n"
    )
    assert shape(chunk_strictly("panel.js", text)) == [
        (1, 3, "function", "default"),
        (5, 7, "method", "Store.save"),
        (9, 9, "function", "parse"),
        (11, 11, "class", "Panel"),
        (12, 15, "method", "Panel.onClick"),
    ]


def test_a_chained_assignment_defines_its_first_name() -> None:
    """Express writes `res.contentType = res.type = function contentType(type) {...}`: the
    function is a method of `res`, not an anonymous block."""
    text = (
        "res.contentType =\nres.type = function contentType(type) {\n  return type;\n};\n\n"
        "var a = b = 3;\n"
    )
    chunks = chunk_strictly("response.js", text)
    assert shape(chunks)[0] == (1, 4, "method", "res.contentType")


# --- long definitions ------------------------------------------------------------------


def long_function(name: str, statements: int, indent: str = "") -> str:
    step = "    total += compute_step({}, total) * weight\n"
    body = "".join(indent + step.format(i) for i in range(statements))
    return f"{indent}def {name}(weight):\n{indent}    total = 0\n{body}{indent}    return total\n"


def test_long_function_is_split_into_overlapping_blocks_within_budget() -> None:
    text = long_function("accumulate", 60)
    chunks = chunk_strictly("long.py", text, max_chars=400)
    assert len(chunks) > 2
    assert {(c.kind, c.symbol) for c in chunks} == {("block", "accumulate")}
    assert chunks[0].text.startswith("def accumulate(weight):")
    for before, after in itertools.pairwise(chunks):
        assert before.start_line < after.start_line <= before.end_line  # overlap, progress
    assert_well_formed(text, chunks, 400)


def test_blocks_of_a_method_keep_its_qualified_symbol() -> None:
    text = 'class Ledger:\n    """Money in and out."""\n\n' + long_function("replay", 40, "    ")
    chunks = chunk_strictly("ledger.py", text, max_chars=500)
    assert chunks[0].kind == "class" and chunks[0].symbol == "Ledger"
    assert {(c.kind, c.symbol) for c in chunks[1:]} == {("block", "Ledger.replay")}
    assert_well_formed(text, chunks, 500)


def test_nested_functions_get_own_chunks_when_parent_is_split() -> None:
    helper = "    def normalise(value):\n        return value.strip().lower()\n\n"
    text = long_function("index", 30).replace("    total = 0\n", "    total = 0\n" + helper, 1)
    chunks = chunk_strictly("index.py", text, max_chars=400)
    nested = by_symbol(chunks, "index.normalise")
    assert (nested.kind, nested.start_line, nested.end_line) == ("function", 3, 4)
    assert {c.kind for c in chunks if c.symbol == "index"} == {"block"}
    assert_well_formed(text, chunks, 400)


def test_small_module_statements_share_a_chunk() -> None:
    text = "import os\nimport sys\n\nDEBUG = False\nNAMES = ['a', 'b']\n\n\ndef f():\n    pass\n"
    assert shape(chunk_file("m.py", text)) == [(1, 5, "module", ""), (8, 9, "function", "f")]


def test_long_module_code_is_cut_into_blocks() -> None:
    text = "".join(f"SETTING_{i} = load_setting('name_{i}', default={i})\n" for i in range(80))
    chunks = chunk_strictly("settings.py", text, max_chars=600)
    assert len(chunks) > 3
    assert {(c.kind, c.symbol) for c in chunks} == {("block", "")}
    assert_well_formed(text, chunks, 600)


# --- odd input -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\n", "   \n\t\n\n", "\r\n\r\n"])
def test_empty_or_blank_file_has_no_chunks(text: str) -> None:
    assert chunk_file("empty.py", text) == []


def test_file_without_trailing_newline() -> None:
    chunks = chunk_file("f.py", "x = 1\n\ndef f():\n    return x")
    assert shape(chunks) == [(1, 1, "module", ""), (3, 4, "function", "f")]
    assert chunks[1].text == "def f():\n    return x"


def test_crlf_gives_the_same_chunks_without_carriage_returns() -> None:
    lf = SOURCES["store.py"]
    crlf_chunks = chunk_strictly("store.py", lf.replace("\n", "\r\n"))
    lf_chunks = chunk_file("store.py", lf)
    assert shape(crlf_chunks) == shape(lf_chunks)
    assert [c.text for c in crlf_chunks] == [c.text for c in lf_chunks]
    assert not any("\r" in c.text for c in crlf_chunks)


def test_unparsable_python_falls_back_to_line_windows() -> None:
    garbage = "".join(f"}}}} ((( {i} def :: class ] => <?php ;;; \n" for i in range(60))
    chunks = chunk_strictly("broken.py", garbage, max_chars=300)
    assert chunks
    assert {c.symbol for c in chunks} == {""}
    assert {c.kind for c in chunks} == {"block"}
    assert {c.language for c in chunks} == {"python"}
    assert_well_formed(garbage, chunks, 300)


def test_a_broken_function_does_not_lose_the_good_ones() -> None:
    text = (
        "def good_one():\n    return 1\n\n"
        "def broken():\n    x = = 2\n    return x\n\n"
        "def good_two():\n    return 2\n"
    )
    chunks = chunk_strictly("partial.py", text)
    assert (1, 2, "function", "good_one") in shape(chunks)
    assert (8, 9, "function", "good_two") in shape(chunks)
    assert_well_formed(text, chunks, MAX_CHUNK_CHARS)


def test_minified_line_is_cut_by_characters_within_budget() -> None:
    line = "".join(f"function f{i}(a){{return a*{i}+g(a,{i})}};" for i in range(800))
    text = line + "\n"
    chunks = chunk_strictly("app.min.js", text, max_chars=500)
    assert all((c.start_line, c.end_line) == (1, 1) for c in chunks)
    assert all(0 < len(c.text) <= 500 for c in chunks)
    assert len(chunks) <= 2 * len(line) // 500 + 1  # not one copy per function
    assert "".join(c.text for c in chunks).count("function f799(") >= 1
    position = 0
    for chunk in chunks:  # pieces follow each other and leave no gap
        found = line.find(chunk.text, max(0, position - 500))
        assert 0 <= found <= position
        position = found + len(chunk.text)
    assert position == len(line)


def test_one_long_line_in_a_normal_file_keeps_line_numbers() -> None:
    table = ", ".join(str(i) for i in range(2000))
    text = (
        '"""Lookup tables."""\nimport math\n\n'
        f"def table():\n    return [{table}]\n\n"
        "def after(x):\n    return math.sqrt(x)\n\n"
        "def last(x):\n    return x * 2\n"
    )
    chunks = chunk_strictly("data.py", text, max_chars=400)
    assert shape(chunks)[0] == (1, 2, "module", "")
    assert by_symbol(chunks, "after").start_line == 7
    assert by_symbol(chunks, "last").start_line == 10
    pieces = [c for c in chunks if c.symbol == "table"]
    assert {(c.kind, c.start_line, c.end_line) for c in pieces} == {
        ("block", 4, 4),
        ("block", 5, 5),
    }
    assert_well_formed(text, chunks, 400)


def test_text_files_are_line_windows() -> None:
    text = "# Guide\n\n" + "".join(
        f"Paragraph {i} explains one step of the setup in a sentence or two.\n"
        + ("\n" if i % 3 == 2 else "")
        for i in range(40)
    )
    chunks = chunk_strictly("docs/guide.md", text, max_chars=300)
    assert len(chunks) > 3
    assert {(c.kind, c.symbol, c.language) for c in chunks} == {("text", "", "markdown")}
    assert_well_formed(text, chunks, 300)


def test_language_can_be_given() -> None:
    chunks = chunk_file("bin/tool", "def main():\n    return 0\n", language="python")
    assert shape(chunks) == [(1, 2, "function", "main")]


def test_chunking_from_many_threads_matches_one_thread() -> None:
    expected = {path: chunk_file(path, text) for path, text in SOURCES.items()}
    results: list[dict[str, list[Chunk]]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                results.append({path: chunk_file(path, text) for path, text in SOURCES.items()})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 20
    assert all(result == expected for result in results)


# --- language names --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "language"),
    [
        ("a.py", "python"),
        ("stubs/a.pyi", "python"),
        ("a.js", "javascript"),
        ("a.mjs", "javascript"),
        ("ui/App.jsx", "javascript"),
        ("a.ts", "typescript"),
        ("ui/App.tsx", "typescript"),
        ("main.go", "go"),
        ("lib.rs", "rust"),
        ("Main.java", "java"),
        ("a.c", "c"),
        ("a.cc", "cpp"),
        ("a.hpp", "cpp"),
        ("a.rb", "ruby"),
        ("Rakefile", "ruby"),
        ("index.php", "php"),
        ("Program.cs", "csharp"),
        ("build.sh", "bash"),
        ("README.md", "markdown"),
        ("config.yaml", "yaml"),
        (".github/ci.yml", "yaml"),
        ("pyproject.toml", "toml"),
        ("Dockerfile", "docker"),
        ("deploy/Dockerfile", "docker"),
        ("Makefile", "make"),
        ("notes.txt", "text"),
        ("LICENSE", "text"),
        ("data.unknownext", "text"),
        ("src/App.kt", "kotlin"),
        ("init.lua", "lua"),
        ("main.tf", "terraform"),
        ("SRC/MAIN.PY", "python"),
    ],
)
def test_detect_language(path: str, language: str) -> None:
    assert detect_language(path) == language


def test_header_is_c_unless_it_uses_cpp() -> None:
    assert detect_language("buf.h") == "c"
    assert detect_language("buf.h", "int buffer_len(const struct buffer *b);\n") == "c"
    assert detect_language("shape.h", "namespace geo {\nclass Shape;\n}\n") == "cpp"


@pytest.mark.parametrize(
    ("first_line", "language"),
    [
        ("#!/usr/bin/env python3", "python"),
        ("#!/usr/bin/python3.12 -u", "python"),
        ("#!/bin/bash", "bash"),
        ("#!/bin/sh -e", "bash"),
        ("#!/usr/bin/env -S node --no-warnings", "javascript"),
        ("#!/usr/bin/env ruby", "ruby"),
        ("#!/usr/bin/awk -f", "text"),
    ],
)
def test_shebang_names_files_without_extension(first_line: str, language: str) -> None:
    assert detect_language("bin/tool", first_line + "\nrest\n") == language


def test_extension_wins_over_shebang() -> None:
    assert detect_language("tool.py", "#!/bin/bash\n") == "python"


# --- what is embedded ------------------------------------------------------------------


def test_embedding_text_has_a_one_line_header_with_path_and_symbol() -> None:
    chunks = chunk_file("src/store.py", SOURCES["store.py"])
    save = by_symbol(chunks, "Store.save")
    assert embedding_text(save) == "src/store.py: Store.save\n" + save.text
    module = chunks[0]
    assert embedding_text(module) == "src/store.py\n" + module.text


# --- properties ------------------------------------------------------------------------

PATHS = [
    "a.py",
    "a.js",
    "a.ts",
    "a.tsx",
    "a.go",
    "a.rs",
    "A.java",
    "a.c",
    "a.h",
    "a.cpp",
    "a.rb",
    "a.php",
    "a.cs",
    "a.sh",
    "README.md",
    "notes.txt",
]
TOKENS = [
    "def ",
    "class ",
    "function ",
    "fn ",
    "func ",
    "impl ",
    "struct ",
    "module ",
    "end",
    "namespace ",
    "template<",
    "<?php ",
    "return ",
    "@dec\n",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ":",
    ";",
    "=>",
    "\n",
    "\n",
    "\n",
    "    ",
    "\t",
    "\r\n",
    "\r",
    "/**",
    "*/",
    "//",
    "///",
    "#",
    "#!",
    '"""',
    "'",
    '"',
    "`",
    "x",
    "y1",
    "Foo",
    "é",
    "中文",
    "\u2028",
    "\x00",
    "\ufeff",
]
any_text = st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=6)), max_size=80).map(
    "".join
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), text=any_text, max_chars=st.sampled_from([12, 80, 400, 1000]))
def test_any_text_in_any_language_chunks_cleanly(path: str, text: str, max_chars: int) -> None:
    chunks = chunk_strictly(path, text, max_chars=max_chars)
    assert_well_formed(text, chunks, max_chars)


def _edits(source: str) -> st.SearchStrategy[str]:
    """Real code with a few random cuts and insertions: mostly valid, sometimes broken."""
    position = st.integers(0, len(source))
    edit = st.tuples(position, st.integers(0, 40), st.sampled_from(TOKENS) | st.text(max_size=4))

    def apply(edits: list[tuple[int, int, str]]) -> str:
        text = source
        for at, cut, insert in edits:
            text = text[:at] + insert + text[at + cut :]
        return text

    return st.lists(edit, max_size=6).map(apply)


@st.composite
def edited_sources(draw: st.DrawFn) -> tuple[str, str]:
    path = draw(st.sampled_from(list(SOURCES)))
    return path, draw(_edits(SOURCES[path] * draw(st.integers(1, 3))))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=edited_sources(), max_chars=st.sampled_from([40, 150, 1000]))
def test_edited_real_code_chunks_cleanly(case: tuple[str, str], max_chars: int) -> None:
    path, text = case
    chunks = chunk_strictly(path, text, max_chars=max_chars)
    assert_well_formed(text, chunks, max_chars)


# --- definitions: the symbol table's rows and the line to open ---------------------------

RUST_DEFINITIONS = """\
use std::fmt;

/// A buffer of lines.
///
/// Reused between searches.
#[derive(Debug, Clone)]
pub struct LineBuffer {
    buf: Vec<u8>,
}

impl LineBuffer {
    /// Make an empty one.
    pub fn new() -> LineBuffer {
        LineBuffer { buf: vec![] }
    }
}

impl fmt::Display for LineBuffer {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "x")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_is_empty() {
        assert!(LineBuffer::new().buf.is_empty());
    }
}
"""


def symbols_of(chunks: list[Chunk]) -> dict[str, Chunk]:
    return {c.symbol: c for c in chunks}


def test_a_rust_struct_opens_at_its_struct_line_with_its_doc_comment_in_the_chunk() -> None:
    chunk = symbols_of(chunk_file("src/line_buffer.rs", RUST_DEFINITIONS))["LineBuffer"]
    assert chunk.start_line == 3 and chunk.line == 7
    assert chunk.text.startswith("/// A buffer of lines.")
    assert chunk.defines == (
        SymbolDef("LineBuffer", "struct", 7, ""),
        SymbolDef("buf", "field", 8, "LineBuffer"),
    )


def test_impl_blocks_are_named_for_what_they_are_and_their_methods_belong_to_the_type() -> None:
    chunks = symbols_of(chunk_file("src/line_buffer.rs", RUST_DEFINITIONS))
    assert chunks["impl LineBuffer"].defines == (SymbolDef("LineBuffer", "impl", 11, ""),)
    assert chunks["impl fmt.Display for LineBuffer"].defines == (
        SymbolDef("LineBuffer", "impl", 18, "fmt.Display"),
    )
    new = chunks["LineBuffer.new"]
    assert new.line == 13 and new.defines == (SymbolDef("new", "method", 13, "LineBuffer"),)
    assert chunks["LineBuffer.fmt"].defines == (SymbolDef("fmt", "method", 19, "LineBuffer"),)


def test_rust_inline_test_modules_are_test_code() -> None:
    chunks = chunk_file("src/line_buffer.rs", RUST_DEFINITIONS)
    tests = [c for c in chunks if c.category == "test"]
    assert {c.symbol for c in tests} >= {"new_is_empty"}
    assert all(c.start_line >= 24 for c in tests)
    assert symbols_of(chunks)["LineBuffer"].category == "code"


def test_a_decorated_python_method_opens_at_def_and_knows_its_class() -> None:
    source = 'class Client:\n    """A client."""\n\n    @property\n    def url(self):\n        return 1\n'
    chunks = symbols_of(chunk_file("httpx/_client.py", source))
    assert chunks["Client"].defines == (SymbolDef("Client", "class", 1, ""),)
    url = chunks["Client.url"]
    assert url.start_line == 4 and url.line == 5
    assert url.defines == (SymbolDef("url", "method", 5, "Client"),)


def test_go_types_say_whether_they_are_structs_or_interfaces() -> None:
    source = (
        "package x\n\n// Searcher searches.\ntype Searcher struct {\n\ta int\n}\n\n"
        "type Matcher interface {\n\tMatch() bool\n}\n\n"
        "// Search runs it.\nfunc (s *Searcher) Search(q string) error {\n\treturn nil\n}\n"
    )
    chunks = symbols_of(chunk_file("search.go", source))
    assert chunks["Searcher"].defines == (
        SymbolDef("Searcher", "struct", 4, ""),
        SymbolDef("a", "field", 5, "Searcher"),
    )
    assert chunks["Matcher"].defines == (SymbolDef("Matcher", "interface", 8, ""),)
    assert chunks["Searcher.Search"].defines == (SymbolDef("Search", "method", 13, "Searcher"),)
    assert chunks["Searcher.Search"].line == 13


def test_an_attribute_set_in_a_long_init_belongs_to_the_class_not_to_the_window() -> None:
    """attrs: ``ClassProps.__init__`` is cut into windows (kind ``block``); its ``self.kw_only``
    row named ``__init__`` as its container, so ``ClassProps.kw_only`` did not find it."""
    body = "".join(f"        self.option_{i} = option_{i}\n" for i in range(60))
    source = f"class ClassProps:\n    def __init__(self, **options):\n{body}"
    rows = [
        (d.name, d.container, c.kind)
        for c in chunk_file("src/props.py", source)
        for d in c.defines
        if d.kind == "field"
    ]
    assert len(rows) == 60 and {kind for _, _, kind in rows} == {"block"}
    assert {container for _, container, _ in rows} == {"ClassProps"}


def test_typescript_type_aliases_are_definitions() -> None:
    source = "export type Shape = { kind: string };\n\nexport function area(s: Shape) {\n  return 1;\n}\n"
    chunks = symbols_of(chunk_file("src/shape.ts", source))
    assert chunks["Shape"].defines == (
        SymbolDef("Shape", "type", 1, ""),
        SymbolDef("kind", "field", 1, "Shape"),
    )
    assert chunks["area"].defines == (SymbolDef("area", "function", 3, ""),)


@pytest.mark.parametrize(
    ("path", "source", "members"),
    [
        (
            "flag.go",
            "package p\n\ntype Flag struct {\n\tName, Shorthand string\n"
            "\tNoOptDefVal string // the value without an argument\n}\n\n"
            "func (f *Flag) Set() {\n\tf.local = 1\n}\n",
            [("Name", 4), ("Shorthand", 4), ("NoOptDefVal", 5)],
        ),
        (
            "src/error.rs",
            "pub enum ErrorKind {\n    Empty,\n    LeadingZero(Position),\n}\n\n"
            "pub struct Version {\n    pub major: u64,\n}\n",
            [("Empty", 2), ("LeadingZero", 3), ("major", 7)],
        ),
        (
            "src/opts.ts",
            "export interface Options {\n  timeout: number;\n  retry?: boolean;\n}\n\n"
            "class Client {\n  private count = 0;\n  run() {\n    const local = 1;\n  }\n}\n",
            [("timeout", 2), ("retry", 3), ("count", 7)],
        ),
        (
            "app/config.py",
            "class Config:\n    timeout: float = 5.0\n    retries = 3\n\n"
            "    def __init__(self, path):\n        self.path = path\n"
            "        if path:\n            self.maybe = 1\n\n"
            "    def load(self):\n        self.loaded = True\n        local = 1\n",
            [("timeout", 2), ("retries", 3), ("path", 6)],
        ),
    ],
)
def test_the_members_a_type_declares_are_in_its_chunks_symbol_rows(
    path: str, source: str, members: list[tuple[str, int]]
) -> None:
    """A field, property or enum variant is a definition a user searches by name, and so is a
    Python attribute every instance gets in ``__init__``; locals, and attributes set
    elsewhere or only on one branch, are not."""
    chunks = chunk_file(path, source)
    found = [(d.name, d.line) for c in chunks for d in c.defines if d.kind == "field"]
    assert found == members
    for chunk in chunks:
        for row in chunk.defines:
            if row.kind == "field":
                assert chunk.start_line <= row.line <= chunk.end_line
                assert row.container and row.container in chunk.symbol.split(".")


def test_a_window_of_a_long_function_opens_where_it_starts() -> None:
    body = "\n".join(f"    x{i} = compute_something_long({i})" for i in range(60))
    source = f"def long_one():\n{body}\n"
    chunks = chunk_file("mod.py", source)
    assert len(chunks) > 1
    assert chunks[0].line == 1 and chunks[0].defines
    assert all(c.line == c.start_line and not c.defines for c in chunks[1:])


def test_module_level_names_are_in_the_symbol_table_at_their_own_lines() -> None:
    source = (
        "import logging\n\nDEFAULT_TIMEOUT = 5.0\nlog = logging.getLogger(__name__)\n"
        "handler = lambda x: x\n\n\ndef main():\n    local = 1\n"
    )
    module = chunk_file("settings.py", source)[0]
    assert [(d.name, d.kind, d.line) for d in module.defines] == [
        ("DEFAULT_TIMEOUT", "variable", 3),
        ("log", "variable", 4),
    ]
    go = 'package x\n\nconst MaxDepth = 10\n\nvar (\n\tErrBad = errors.New("bad")\n)\n'
    assert [d.name for d in chunk_file("x.go", go)[0].defines] == ["MaxDepth", "ErrBad"]
    ts = "export const schema = z.object({});\nexport const f = () => 1;\n"
    assert [d.name for c in chunk_file("s.ts", ts) for d in c.defines] == ["schema", "f"]


GO_SECTIONS = """package mux

// SkipClean reports whether path cleaning is enabled for this route.
func (r *Route) SkipClean() bool {
	return r.skipClean
}

// Host -----------------------------------------------------------------------

// Host adds a matcher for the URL host.
func (r *Route) Host(tpl string) *Route {
	r.err = r.addRegexpMatcher(tpl, regexpTypeHost)
	return r
}

// Methods --------------------------------------------------------------------

// Methods adds a matcher for HTTP methods.
// It accepts a sequence of one or more methods to be matched, e.g.:
// "GET", "POST", "PUT". Matching is case-insensitive, and the methods are kept
// upper-cased so that a request for "get" matches a route for "GET" as well.
func (r *Route) Methods(methods ...string) *Route {
	for k, v := range methods {
		methods[k] = strings.ToUpper(v)
	}
	// The matcher compares the request's method with each of them in turn, and the
	// route matches when any one of them is equal: the order does not matter at all.
	// Methods that are not upper-cased by the client would otherwise never match here.
	return r.addMatcher(methodMatcher(methods))
}
"""


def test_a_section_comment_heads_the_definition_below_it() -> None:
    """``// Host ---`` alone between definitions is no chunk of its own: it joins the short
    function below (which still opens at ``func``)."""
    chunks = chunk_strictly("route.go", GO_SECTIONS)
    assert_well_formed(GO_SECTIONS, chunks, MAX_CHUNK_CHARS)
    host = by_symbol(chunks, "Route.Host")
    assert (host.start_line, host.line, host.category) == (8, 11, "code")
    assert not any(c.start_line == 8 and c.end_line == 8 for c in chunks)


def test_a_comment_that_cannot_join_its_definition_is_docs_not_code() -> None:
    """Where the function below is too long to take it, the separator stays a chunk, but as
    ``docs``: a word or two that BM25 would otherwise rank above the code it introduces."""
    chunks = chunk_strictly("route.go", GO_SECTIONS)
    methods = by_symbol(chunks, "Route.Methods")
    separator = next(c for c in chunks if c.start_line == 16)
    assert (separator.end_line, separator.symbol, separator.category) == (16, "", "docs")
    assert methods.category == "code" and methods.start_line == 18


def test_a_long_definitions_doc_comment_window_stays_code() -> None:
    """A definition's own doc comment, cut into a window of its own, describes that code."""
    doc = "\n".join(f"// Parse reads header line {i} and says what it means." for i in range(14))
    body = "\n".join(f"\tfield{i} := parseField(line, {i})" for i in range(14))
    text = f"package p\n\n{doc}\nfunc Parse(line string) error {{\n{body}\n\treturn nil\n}}\n"
    chunks = chunk_strictly("p.go", text)
    assert_well_formed(text, chunks, MAX_CHUNK_CHARS)
    parse = [c for c in chunks if c.symbol == "Parse"]
    assert len(parse) > 1 and all(c.category == "code" for c in parse)


def test_python_section_comments_join_the_next_definition() -> None:
    text = (
        "def user():\n    return os.environ['USER']\n\n\n"
        "# --- helpers ---\n\n\ndef home():\n    return os.environ['HOME']\n"
    )
    chunks = chunk_strictly("util.py", text)
    assert_well_formed(text, chunks, MAX_CHUNK_CHARS)
    home = by_symbol(chunks, "home")
    assert (home.start_line, home.line, home.category) == (5, 8, "code")
