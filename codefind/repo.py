"""The repository walk: which files of a git work tree codefind indexes, and their content ids.

Why it looks like this:

- A re-index with nothing changed must cost about one ``git ls-files``. So the walk never
  reads a clean tracked file: git already knows its blob id (the index entry), and that id
  changes exactly when the content does. Only dirty and untracked files are hashed, with the
  same blob hash git would compute (``sha1("blob <size>\\0" + bytes)``), so committing a file
  later keeps its id and nothing is re-embedded. A dirty or untracked file whose size and
  mtime match the previous run (``known``) reuses the previous id without being read.
- git evaluates every ignore rule (``.gitignore``, ``.git/info/exclude``, the global excludes
  and codefind's own ``.codefindignore``, which uses the same syntax), so the walk never
  re-implements gitignore matching.
- git is run as a subprocess, not through GitPython: ``import git`` alone costs about 0.2 s
  (the whole no-change budget for a small repo), and ``git ls-files -z`` is 20x faster than
  reading the index through GitPython (``docs/API_NOTES.md``, "git and GitPython").
- Skips that need only the path and ``lstat`` happen in the walk; skips that need the content
  (NUL bytes, minified or generated code) happen in :meth:`Repository.read`, which the indexer
  calls only for files whose content id changed. Either way every skipped file is counted
  with its reason, never dropped silently.
- Paths from the repository are never given to a shell, and never placed on a git command
  line except after ``--`` with ``--literal-pathspecs``, so a file named ``--help`` or
  ``-rf`` is just a file.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import os
import re
import stat
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from codefind.categories import compiled_twins, is_data_file
from codefind.config import DEFAULT_MAX_FILE_BYTES
from codefind.errors import NotARepositoryError, RepoError
from codefind.models import FileSkipped, SkipReason, SourceFile, WalkResult

CODEFIND_IGNORE = ".codefindignore"
"""Per-folder ignore file in gitignore syntax, for files that git tracks but codefind should not
index (fixtures, data, docs)."""

SUBMODULE_MODE = "160000"

VENDORED_DIRS: frozenset[str] = frozenset(
    {
        "node_modules", "bower_components", "jspm_packages", "web_modules",
        "vendor", "vendors", "third_party", "third-party", "thirdparty", "3rdparty",
        "site-packages", "dist-packages", ".venv", "venv", "virtualenv", "__pycache__",
        ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache",
        "Pods", "Carthage", ".yarn", ".pnpm-store", "Godeps",
    }
)  # fmt: skip
"""Folder names (any path component, exact case) that hold other people's code.

``dist`` and ``build`` are deliberately absent: they are usually git-ignored already, and
where they are tracked they are often real source (Go's ``go/build`` and ``cmd/dist``, build
scripts); a repository that tracks build output can list it in ``.codefindignore``."""

LOCK_FILE_NAMES: frozenset[str] = frozenset(
    {
        "package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "shrinkwrap.yaml",
        "go.sum", "go.work.sum", "Package.resolved", "packages.lock.json",
        "gradle.lockfile", "conda-lock.yml", "composer.lock", "Gopkg.lock",
    }
)  # fmt: skip
"""Lock files by exact name; any file ending in ``.lock``/``.lockb``/``.lockfile`` is one too
(``yarn.lock``, ``Cargo.lock``, ``poetry.lock``, ``Pipfile.lock``, ``Gemfile.lock``,
``uv.lock``, ``flake.lock``, ``bun.lockb``, ...)."""

LOCK_FILE_SUFFIXES: tuple[str, ...] = (".lock", ".lockb", ".lockfile")

BINARY_SUFFIXES: frozenset[str] = frozenset(
    {
        # images
        ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".icns", ".tif", ".tiff", ".webp",
        ".psd", ".xcf", ".heic", ".avif", ".svgz",
        # documents
        ".pdf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".odt", ".ods", ".odp",
        ".epub",
        # archives and packages
        ".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".zst", ".lz4", ".jar",
        ".war", ".ear", ".whl", ".egg", ".apk", ".ipa", ".deb", ".rpm", ".dmg", ".iso",
        ".msi", ".cab",
        # compiled code
        ".so", ".dll", ".dylib", ".exe", ".o", ".obj", ".a", ".lib", ".bin", ".elf",
        ".class", ".pyc", ".pyo", ".pyd", ".wasm", ".dex", ".beam", ".node",
        # fonts
        ".woff", ".woff2", ".ttf", ".otf", ".eot",
        # audio and video
        ".mp3", ".mp4", ".m4a", ".wav", ".ogg", ".flac", ".avi", ".mov", ".mkv", ".webm",
        ".wmv",
        # data and model weights
        ".db", ".sqlite", ".sqlite3", ".parquet", ".npy", ".npz", ".pkl", ".pickle", ".h5",
        ".hdf5", ".onnx", ".pt", ".pth", ".safetensors", ".ckpt", ".tflite",
    }
)  # fmt: skip
"""Extensions (lower-cased) of files that are binary by name; anything else with a NUL byte
in its first 8,000 bytes is found binary when read."""

MINIFIED_SUFFIXES: tuple[str, ...] = (".min.js", ".min.mjs", ".min.cjs", ".min.css", ".map")
"""Minified bundles and source maps by name; others are found by their line lengths."""

GENERATED_SUFFIXES: tuple[str, ...] = (
    "_pb2.py", "_pb2.pyi", "_pb2_grpc.py", ".pb.go", ".pb.gw.go", ".pb.cc", ".pb.h",
    "_pb.js", "_pb.d.ts", "_grpc_pb.js", ".g.dart", ".freezed.dart", ".designer.cs", ".g.cs",
)  # fmt: skip
"""Generated code by name (protobuf/gRPC, Dart codegen, WinForms designers), plus any name
containing ``.generated.``; others are found by a marker in their first lines."""

BINARY_SNIFF_BYTES = 8000
"""Bytes searched for a NUL (git's own heuristic looks at the same amount)."""

MINIFIED_LONG_LINE = 1000
MINIFIED_MEAN_LINE = 300
"""A file is minified when it has a line over 1,000 characters AND its mean line length is
over 300: one long line in an ordinary file (a data literal) does not exclude the file."""

GENERATED_HEAD_LINES = 10
_GENERATED_MARKER = re.compile(
    r"@generated|DO NOT EDIT|(?i:\bauto-?generated\b|\bautomatically generated\b)"
)
"""Markers of generated code in a file's first lines: ``@generated`` (Meta), ``DO NOT EDIT``
(Go's ``// Code generated ... DO NOT EDIT.``, protoc, many others), "autogenerated"."""

RACY_WINDOW_NS = 2_000_000_000
"""A file modified this close to the walk's start gets ``mtime_ns = 0`` (unknown), so the next
walk hashes it again instead of trusting size + mtime: a second edit within the same
timestamp tick (coarse on some filesystems) would otherwise go unseen (git's "racy clean")."""

_ARG_BYTES_PER_CALL = 30_000
"""Upper bound on the paths put on one git command line (Windows allows 32,767 chars)."""

_NOTE_MAX_PATHS = 5


@dataclass(frozen=True)
class Repository:
    """A git work tree, the ``FileSource`` of every normal codefind run.

    Symlinks are never followed and never indexed (reason ``symlink``): one that points inside
    the repository would index its target twice, one that leaves the repository would index
    code that is not the repository's, and broken ones and loops have no content.
    Submodules and nested repositories are not entered (reason ``submodule``, and a note).

    Attributes:
        root: The work tree's top level (resolved).
        git_dir: This checkout's git directory (``.git/worktrees/<name>`` for a linked
            worktree).
        common_dir: The git directory shared by all worktrees (equal to ``git_dir`` except in
            linked worktrees).
        max_file_bytes: Files larger than this are skipped (``too_large``) without being read.
        include_data: Index data files (CSV, snapshots, test inputs; see
            ``codefind.categories``) too. Without it they are skipped (``data``) unless a
            ``.codefindignore`` negation (``!benchsuite/*.csv``) names them.
    """

    root: Path
    git_dir: Path
    common_dir: Path
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    include_data: bool = False

    @classmethod
    def discover(
        cls,
        path: Path,
        *,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        include_data: bool = False,
    ) -> Repository:
        """Find the repository whose work tree contains ``path``.

        Args:
            path: Any folder or file inside the work tree (a sub-folder works).
            max_file_bytes: The size limit of indexed files.
            include_data: Index data files too (see the attribute).

        Raises:
            NotARepositoryError: ``path`` does not exist, is not inside a git work tree, is a
                bare repository, or is inside a ``.git`` folder.
            RepoError: git is missing, or refuses the repository (e.g. dubious ownership).
        """
        start = _start_folder(path)
        lines = _rev_parse_lines(start, path)
        if lines[0] == "true":
            raise NotARepositoryError(
                f"{path} is a bare git repository: it has no work tree, and codefind indexes "
                "checked-out files (clone it, or add a checkout with `git worktree add`)"
            )
        if lines[1] != "true" or len(lines) < 5:
            raise NotARepositoryError(
                f"{path} is inside a git directory, not a work tree; "
                "run codefind in the checked-out folder"
            )
        return cls(
            root=Path(lines[4]).resolve(),
            git_dir=Path(lines[2]).resolve(),
            common_dir=(start / lines[3]).resolve(),
            max_file_bytes=max_file_bytes,
            include_data=include_data,
        )

    # --- locations ---------------------------------------------------------------------

    def index_dir(self, override: Path | None = None) -> Path:
        """Where this checkout's index lives: ``<git_dir>/codefind``, or a folder in ``override``.

        Per checkout, so two worktrees on different branches never overwrite each other. An
        ``override`` (``CODEFIND_INDEX_DIR``) is shared by every repository, so each gets its
        own folder in it, named after the repository and keyed by a hash of its git directory
        (a linked worktree: a ``worktrees`` folder in it, keyed by the work tree's path);
        otherwise repository B would search, and remove, repository A's files.
        """
        if override is None:
            return self.git_dir / "codefind"
        base = self._override_base(override)
        if self.git_dir == self.common_dir:
            return base
        return base / "worktrees" / _keyed_name(self.root.name, self.root)

    def cache_dir(self, override: Path | None = None) -> Path:
        """Where the embedding cache lives: ``<common_dir>/codefind/cache`` (or in ``override``).

        Shared by all worktrees of the repository: the same text has the same vector.
        """
        base = self._override_base(override) if override else self.common_dir / "codefind"
        return base / "cache"

    def checkout_index_dirs(self, override: Path | None = None) -> list[Path]:
        """The index folders that exist for checkouts of this repository (the main work tree
        and each linked worktree): they share one embedding cache (``cache_dir``)."""
        if override is None:
            main = self.common_dir / "codefind"
            linked = sorted((self.common_dir / "worktrees").glob("*/codefind"))
        else:
            main = self._override_base(override)
            linked = sorted((main / "worktrees").glob("*"))
        return [folder for folder in (main, *linked) if folder.is_dir()]

    def _override_base(self, override: Path) -> Path:
        common = self.common_dir
        name = common.parent.name if common.name == ".git" else common.name.removesuffix(".git")
        return override / _keyed_name(name, common)

    def relative_path(self, path: Path) -> str:
        """``path`` relative to the root, ``/``-separated (``""`` for the root itself).

        Lets the CLI turn a PATH argument into a prefix of walked paths.

        Raises:
            NotARepositoryError: ``path`` is outside this work tree.
        """
        resolved = path.resolve()
        try:
            rel = resolved.relative_to(self.root)
        except ValueError:
            raise NotARepositoryError(f"{path} is not inside the repository {self.root}") from None
        return rel.as_posix() if rel.parts else ""

    # --- HEAD --------------------------------------------------------------------------

    @property
    def head(self) -> str | None:
        """The commit id HEAD points at, or ``None`` in a repository with no commits yet."""
        result = self._git("rev-parse", "-q", "--verify", "HEAD^{commit}", check=False)
        if result.returncode != 0:
            return None
        return result.stdout.decode("ascii").strip() or None

    @property
    def detached(self) -> bool:
        """Whether HEAD is detached (points at a commit, not a branch)."""
        return self._git("symbolic-ref", "-q", "HEAD", check=False).returncode != 0

    # --- walking -----------------------------------------------------------------------

    def walk(self, known: Mapping[str, SourceFile] | None = None) -> WalkResult:
        """List the files to index and count what was skipped, by reason.

        Tracked files come with their index blob id unread. Dirty, conflicted and untracked
        (not git-ignored) files are hashed as git would hash them, unless ``known`` holds the
        path with the same size and ``mtime_ns``. Files deleted from the work tree are not
        listed. The whole repository is listed even when discovered from a sub-folder.

        With ``core.autocrlf`` or clean filters, git's blob id of a file can differ from the
        hash of its raw work-tree bytes; that costs one re-chunk when the file is committed,
        never a wrong result.

        Args:
            known: Files recorded by the previous run, by path.

        Raises:
            RepoError: git failed to list the files.
        """
        started_ns = time.time_ns()
        listing = self._list_files()
        walker = _Walker(
            root=str(self.root),
            max_file_bytes=self.max_file_bytes,
            known=known or {},
            fresh_after_ns=started_ns - RACY_WINDOW_NS,
            object_hash=listing.object_hash,
            include_data=self.include_data,
            twins=frozenset(compiled_twins([*listing.tracked, *listing.untracked])),
        )
        walker.scan(listing)
        if walker.data and self._has_codefindignore(listing):
            walker.include(self._data_wanted(list(walker.data), listing))
        return walker.result(listing)

    def read(self, file: SourceFile) -> str:
        """The text of a walked file, decoded for indexing.

        The content is read now, so a file changed since the walk gives its new text while
        the indexer records the walk's ``content_id``. That heals itself: the next walk sees
        a new size or mtime (or git sees the file dirty) and hashes it again. Recent files are
        walked with ``mtime_ns = 0`` so even a same-tick change is caught.

        Raises:
            FileSkipped: ``binary``, ``minified`` or ``generated`` content (see
                :func:`decode_source`); ``too_large`` if it grew past the limit since the
                walk; ``symlink`` if a folder on its path is now a symlink (never followed:
                it may lead out of the repository); ``unreadable`` if it vanished, became a
                directory, a symlink or something other than a file, or cannot be read.
        """
        return decode_source(self._read_bytes(file.path))

    # --- internals ---------------------------------------------------------------------

    def _read_bytes(self, rel: str) -> bytes:
        if not _is_plain_relative(rel):
            raise FileSkipped("unreadable", f"{rel!r} is not a path inside the repository")
        try:
            with open_in_tree(self.root, rel) as handle:
                data = handle.read(self.max_file_bytes + 1)
        except SymlinkInPathError:
            raise FileSkipped("symlink", f"{rel}: a folder on its path is a symlink") from None
        except FileNotFoundError:
            raise FileSkipped("unreadable", f"{rel}: deleted since the walk") from None
        except OSError as exc:
            raise FileSkipped("unreadable", f"{rel}: {exc.strerror or exc}") from None
        if len(data) > self.max_file_bytes:
            raise FileSkipped("too_large", f"{rel}: over {self.max_file_bytes} bytes")
        return data

    def _list_files(self) -> _Listing:
        # The three listings are independent: run them at once (2 cores help).
        stage, modified, others = _finish_all(
            [
                self._start_git("ls-files", "-z", "--stage"),
                self._start_git("ls-files", "-z", "--modified"),
                self._start_git("ls-files", "-z", "--others", "--exclude-standard"),
            ]
        )
        listing = _Listing.parse(stage=stage, modified=modified, others=others)
        if self._has_codefindignore(listing):
            listing = replace(listing, ignored=self._codefind_ignored(listing.untracked))
        return listing

    def _has_codefindignore(self, listing: _Listing) -> bool:
        """Whether any ``.codefindignore`` exists (tracked, untracked, or git-ignored at root)."""
        names = (*listing.tracked, *listing.untracked)
        suffix = "/" + CODEFIND_IGNORE
        if any(name == CODEFIND_IGNORE or name.endswith(suffix) for name in names):
            return True
        return os.path.lexists(self.root / CODEFIND_IGNORE)

    def _codefind_ignored(self, untracked: Sequence[str]) -> frozenset[str]:
        """Paths matched by ``.codefindignore`` rules, evaluated by git.

        Tracked files are checked against the index (cheap). Untracked ones are named as
        literal pathspecs: without them git would descend into every git-ignored folder
        (``node_modules``, ``.venv``) looking for matches.
        """
        per_dir = f"--exclude-per-directory={CODEFIND_IGNORE}"
        (tracked,) = _finish_all([self._start_git("ls-files", "-z", "-c", "-i", per_dir)])
        found = _z_paths(tracked)
        for batch in _batches(untracked, _ARG_BYTES_PER_CALL):
            args = ("--literal-pathspecs", "ls-files", "-z", "-o", "-i", per_dir, "--", *batch)
            (matched,) = _finish_all([self._start_git(*args)])
            found.extend(_z_paths(matched))
        return frozenset(found)

    def _data_wanted(self, candidates: Sequence[str], listing: _Listing) -> set[str]:
        """The data files that a ``.codefindignore`` negation (``!*.csv``) asks to index.

        The data rule is handed to git as the lowest-precedence exclude patterns (one literal
        pattern per candidate), so a per-folder ``.codefindignore`` negation overrides it
        exactly as it would override a ``.gitignore`` rule; what git no longer lists as
        ignored was re-included.
        """
        import tempfile  # only repositories with data files and a .codefindignore get here

        per_dir = f"--exclude-per-directory={CODEFIND_IGNORE}"
        still_ignored: set[str] = set()
        with tempfile.NamedTemporaryFile("w", suffix=".exclude", encoding="utf-8") as rules:
            rules.writelines("/" + _glob_escape(path) + "\n" for path in candidates)
            rules.flush()
            excludes = f"--exclude-from={rules.name}"
            tracked = [p for p in candidates if p in listing.tracked]
            untracked = [p for p in candidates if p not in listing.tracked]
            for which, paths in (("-c", tracked), ("-o", untracked)):
                for batch in _batches(paths, _ARG_BYTES_PER_CALL):
                    args = ("--literal-pathspecs", "ls-files", "-z", which, "-i", per_dir,
                            excludes, "--", *batch)  # fmt: skip
                    (matched,) = _finish_all([self._start_git(*args)])
                    still_ignored.update(_z_paths(matched))
        return set(candidates) - still_ignored

    def _git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return _run_git(args, cwd=self.root, check=check)

    def _start_git(self, *args: str) -> _GitCall:
        return _GitCall(args, _popen_git(args, cwd=self.root))


# --- content checks (public: a corpus FileSource applies the same rules) -------------------


def blob_id(data: bytes, object_hash: str = "sha1") -> str:
    """The id git gives a blob with this content (``git hash-object``).

    Args:
        data: The file's bytes.
        object_hash: ``sha1``, or ``sha256`` for repositories in SHA-256 object format.
    """
    digest = hashlib.new(object_hash, b"blob %d\0" % len(data))
    digest.update(data)
    return digest.hexdigest()


def decode_source(data: bytes) -> str:
    """Decode a file's bytes for indexing, or say why it should not be indexed.

    UTF-8 (a BOM is stripped); UTF-16 and UTF-32 when they start with a BOM. Invalid bytes
    become U+FFFD replacement characters, so a file with mixed or legacy encodings is indexed
    with its readable parts rather than dropped. Line endings are as ``decode_text`` gives
    them (CRLF kept, old Mac lone CRs made ``\\n``).

    Raises:
        FileSkipped: ``binary`` (a NUL byte in the first 8,000 bytes, no UTF-16/32 BOM),
            ``minified`` (see ``MINIFIED_LONG_LINE``) or ``generated`` (a marker in the first
            lines, see ``_GENERATED_MARKER``).
    """
    text = decode_text(data)
    if looks_minified(text):
        raise FileSkipped("minified", "very long lines")
    marker = generated_marker(text)
    if marker:
        raise FileSkipped("generated", f"marked {marker!r}")
    return text


def looks_minified(text: str) -> bool:
    """Whether the text is dominated by very long lines (minified or packed data)."""
    lines = text.count("\n") + 1
    if len(text) / lines <= MINIFIED_MEAN_LINE:
        return False
    return any(len(line) > MINIFIED_LONG_LINE for line in text.split("\n"))


def generated_marker(text: str) -> str | None:
    """The generated-code marker found in the first lines of ``text``, if any."""
    for line in text[:8000].split("\n", GENERATED_HEAD_LINES)[:GENERATED_HEAD_LINES]:
        match = _GENERATED_MARKER.search(line[:500])
        if match:
            return match.group(0)
    return None


def path_skip_reason(path: str) -> SkipReason | None:
    """Why a file should be skipped judging by its path alone (``None``: index it).

    Args:
        path: Relative, ``/``-separated.
    """
    folder, _, name = path.rpartition("/")
    if folder and not VENDORED_DIRS.isdisjoint(folder.split("/")):
        return "vendored"
    if name in LOCK_FILE_NAMES or name.endswith(LOCK_FILE_SUFFIXES):
        return "lock_file"
    lower = name.lower()
    dot = lower.rfind(".")
    if dot > 0 and lower[dot:] in BINARY_SUFFIXES:
        return "binary"
    if lower.endswith(MINIFIED_SUFFIXES):
        return "minified"
    if lower.endswith(GENERATED_SUFFIXES) or ".generated." in lower:
        return "generated"
    return None


def decode_text(data: bytes) -> str:
    """Bytes to text as codefind reads every file: BOM-aware, invalid bytes replaced.

    The one place that decides what a line is, for indexing and for the app's preview alike:
    lines end at ``\\n`` (a ``\\r`` before it is part of the ending, see ``text_lines``), and
    a file with ``\\r`` but no ``\\n`` at all (classic Mac OS line endings) has its ``\\r``
    made ``\\n``, so it has lines, numbered as editors show them, instead of being one line.

    Raises:
        FileSkipped: ``binary``: a NUL byte in the first 8,000 bytes and no UTF-16/32 BOM.
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return _lone_cr_as_lines(data[len(bom) :].decode(codec, errors="replace"))
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        raise FileSkipped("binary", "NUL bytes")
    return _lone_cr_as_lines(data.decode("utf-8-sig", errors="replace"))


def text_lines(text: str) -> list[str]:
    """The lines of decoded text as codefind numbers them (line N is ``text_lines(t)[N-1]``).

    Split on ``\\n`` only, a ``\\r`` before it dropped: ``str.splitlines`` would also split
    on form feeds, U+2028 and other characters that editors show inside a line, and every
    line number after one would be off. The chunker splits the same way.
    """
    if not text:
        return []
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    if "\r" in text:
        lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    return lines


def _lone_cr_as_lines(text: str) -> str:
    if "\r" in text and "\n" not in text:
        return text.replace("\r", "\n")
    return text


_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 first: its little-endian BOM starts with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


# --- the walk itself -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Listing:
    """What git said about the work tree, paths decoded.

    Attributes:
        tracked: Path -> (mode, blob id) from the index (for a conflict: its last stage).
        dirty: Tracked paths whose work-tree content differs from the index blob:
            modified, deleted, intent-to-add, or in a merge conflict.
        untracked: Files git does not track and does not ignore.
        nested: Untracked folders that are git repositories of their own.
        undecodable: Names that are not UTF-8 (with ``surrogateescape``), skipped.
        ignored: Paths matched by ``.codefindignore`` rules.
    """

    tracked: dict[str, tuple[str, str]]
    dirty: frozenset[str]
    untracked: list[str]
    nested: list[str]
    undecodable: list[str]
    object_hash: str
    ignored: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, *, stage: bytes, modified: bytes, others: bytes) -> _Listing:
        """Build a listing from the output of the three ``git ls-files -z`` calls."""
        records = _STAGE_RECORD.findall(stage.decode("utf-8", "surrogateescape"))
        tracked = {path: (mode, blob) for mode, blob, _, path in records}
        conflicted = {path for _, _, number, path in records if number != "0"}
        other_paths = _z_paths(others)
        undecodable = [p for p in (*tracked, *other_paths) if not _is_utf8(p)]
        for name in undecodable:
            tracked.pop(name, None)
        return cls(
            tracked=tracked,
            dirty=frozenset(_z_paths(modified)).union(conflicted),
            untracked=[p for p in other_paths if not p.endswith("/") and _is_utf8(p)],
            nested=[p.rstrip("/") for p in other_paths if p.endswith("/") and _is_utf8(p)],
            undecodable=undecodable,
            object_hash="sha256" if records and len(records[0][1]) == 64 else "sha1",
        )


_STAGE_RECORD = re.compile(r"([0-7]+) ([0-9a-f]+) ([0-3])\t([^\0]*)\0")
"""One record of ``git ls-files -z --stage``: mode, blob id, stage number, path."""


def _z_paths(out: bytes) -> list[str]:
    """The paths of a ``-z`` listing (non-UTF-8 bytes kept as surrogates)."""
    return [path for path in out.decode("utf-8", "surrogateescape").split("\0") if path]


def _is_utf8(path: str) -> bool:
    if path.isascii():
        return True
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Walker:
    """Turns a listing into a ``WalkResult``: one decision per path, counted.

    ``scan`` decides every path; data files are held back in ``data`` (path -> the blob id
    of a clean tracked file), so the caller can ``include`` those a ``.codefindignore``
    negation asks for before ``result`` counts the rest as skipped.
    """

    def __init__(
        self,
        *,
        root: str,
        max_file_bytes: int,
        known: Mapping[str, SourceFile],
        fresh_after_ns: int,
        object_hash: str,
        include_data: bool = False,
        twins: frozenset[str] = frozenset(),
    ) -> None:
        self.root = root
        self.twins = twins
        self.max_file_bytes = max_file_bytes
        self.known = known
        self.fresh_after_ns = fresh_after_ns
        self.object_hash = object_hash
        self.include_data = include_data
        self.files: list[SourceFile] = []
        self.skipped: dict[SkipReason, int] = {}
        self.data: dict[str, str | None] = {}
        self.linked_folders: list[str] = []
        self._real_folders: dict[str, bool] = {"": True}

    def scan(self, listing: _Listing) -> None:
        """Decide every path of the listing."""
        for path, (mode, blob) in listing.tracked.items():
            if mode == SUBMODULE_MODE:
                self._skip("submodule")
                continue
            self._decide(path, None if path in listing.dirty else blob, listing.ignored)
        for path in listing.untracked:
            self._decide(path, None, listing.ignored)
        for _ in listing.nested:
            self._skip("submodule")
        for _ in listing.undecodable:
            self._skip("unreadable")

    def include(self, paths: set[str]) -> None:
        """Index these data files after all (the user asked for them)."""
        for path in sorted(paths & self.data.keys()):
            outcome = self._examine(path, self.data.pop(path), frozenset(), data_ok=True)
            if isinstance(outcome, SourceFile):
                self.files.append(outcome)
            elif outcome is not None:
                self._skip(outcome)

    def result(self, listing: _Listing) -> WalkResult:
        """What was found, with the data files still held back counted as skipped."""
        for _ in self.data:
            self._skip("data")
        self.data.clear()
        submodules = [p for p, (mode, _) in listing.tracked.items() if mode == SUBMODULE_MODE]
        notes = _notes(submodules, listing.nested, listing.undecodable, self.linked_folders)
        self.files.sort(key=lambda f: f.path)
        return WalkResult(
            files=tuple(self.files),
            skipped=dict(self.skipped),
            files_seen=len(self.files) + sum(self.skipped.values()),
            notes=notes,
        )

    def _skip(self, reason: SkipReason) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def _decide(self, path: str, clean_blob: str | None, ignored: frozenset[str]) -> None:
        """Index, skip or drop one path; ``clean_blob`` is git's id for a clean tracked file."""
        outcome = self._examine(path, clean_blob, ignored)
        if isinstance(outcome, SourceFile):
            self.files.append(outcome)
        elif outcome == "data":
            self.data[path] = clean_blob
        elif outcome is not None:
            self._skip(outcome)

    def _examine(
        self,
        path: str,
        clean_blob: str | None,
        ignored: frozenset[str],
        *,
        data_ok: bool = False,
    ) -> SourceFile | SkipReason | None:
        if not self._real_folder(path.rpartition("/")[0]):
            return "symlink"  # a tracked folder replaced by a symlink: never followed
        full = os.path.join(self.root, path)
        try:
            info = os.lstat(full)
        except (FileNotFoundError, NotADirectoryError):
            return None  # deleted from the work tree: nothing to index
        except OSError:
            return "unreadable"
        if stat.S_ISDIR(info.st_mode):
            return None  # a tracked file replaced by a folder; its files are listed as others
        reason = "ignored" if path in ignored else path_skip_reason(path)
        if reason is not None:
            return reason
        if path in self.twins:
            return "generated"  # build output of a TypeScript source in this repository
        if stat.S_ISLNK(info.st_mode):
            return "symlink"
        if not stat.S_ISREG(info.st_mode):
            return "unreadable"  # a FIFO, socket or device
        if info.st_size > self.max_file_bytes:
            return "too_large"
        if not (data_ok or self.include_data) and is_data_file(path, info.st_size):
            return "data"
        try:
            content_id = clean_blob or self._content_id(path, info)
        except FileNotFoundError:
            return None  # deleted while walking
        except OSError:
            return "unreadable"
        mtime = info.st_mtime_ns if info.st_mtime_ns < self.fresh_after_ns else 0
        return SourceFile(path=path, content_id=content_id, size=info.st_size, mtime_ns=mtime)

    def _real_folder(self, folder: str) -> bool:
        """Whether no component of ``folder`` is a symlink (one ``lstat`` per folder per walk).

        ``lstat`` of a file follows symlinks in the folders above it, so a tracked folder
        replaced by a link to ``/`` would otherwise be read through. Iterative, not recursive:
        a hostile repository may nest thousands of folders.
        """
        known = self._real_folders.get(folder)
        if known is not None:
            return known
        prefix, real = "", True
        for part in folder.split("/"):
            prefix = f"{prefix}/{part}" if prefix else part
            cached = self._real_folders.get(prefix)
            if cached is None:  # below a symlink: not real either, and not looked at
                cached = real and not _is_symlink(os.path.join(self.root, prefix))
                if real and not cached:
                    self.linked_folders.append(prefix)
                self._real_folders[prefix] = cached
            real = cached
        return real

    def _content_id(self, path: str, info: os.stat_result) -> str:
        """Blob id of a dirty or untracked file: reused from ``known`` or hashed.

        Raises:
            OSError: The file cannot be read (or is no longer a regular file).
        """
        previous = self.known.get(path)
        if (
            previous is not None
            and previous.mtime_ns != 0
            and previous.size == info.st_size
            and previous.mtime_ns == info.st_mtime_ns
        ):
            return previous.content_id
        return blob_id(_read_for_hash(self.root, path), self.object_hash)


def _read_for_hash(root: str, rel: str) -> bytes:
    """A dirty or untracked file's bytes (never through a symlinked folder)."""
    with open_in_tree(root, rel) as handle:
        return handle.read()


def _is_symlink(full: str) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(full).st_mode)
    except OSError:
        return False  # gone, or not a folder: the file's own lstat will say so


class SymlinkInPathError(OSError):
    """A folder on the way to a file is a symlink, which codefind never follows."""


def open_in_tree(root: str | os.PathLike[str], rel: str) -> BinaryIO:
    """Open the regular file ``root/rel`` for reading without following any symlink on the way.

    Each folder is opened relative to the previous one with ``O_NOFOLLOW``, so a folder
    swapped for a link to outside the repository, even between a check and the read, is
    refused instead of followed; the file itself is opened with ``O_NOFOLLOW`` and
    ``O_NONBLOCK`` (a FIFO does not block). Costs one ``open`` per folder level.

    Args:
        root: The work tree (trusted: it is where the user asked to work).
        rel: A ``/``-separated path inside it, with no ``..`` components.

    Raises:
        SymlinkInPathError: A folder on the path is a symlink.
        OSError: The file does not exist, cannot be opened, or is not a regular file; the
            file itself is a symlink (``ELOOP``); or ``rel`` is absolute or has ``..``.
    """
    if not _is_plain_relative(rel):
        raise OSError(errno.EINVAL, f"{rel!r} is not a path inside the repository")
    *folders, name = rel.split("/")
    if not _DIR_FDS:
        return _open_checked(os.path.join(root, *folders), name, folders, str(root))
    fd = os.open(root, _DIR_FLAGS)
    try:
        for part in folders:
            try:
                child = os.open(part, _DIR_FLAGS | _NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno in _LINK_ERRNOS or _is_symlink_at(part, fd):
                    raise SymlinkInPathError(
                        errno.ELOOP, "a folder on its path is a symlink"
                    ) from None
                raise
            os.close(fd)
            fd = child
        return _regular(os.open(name, _OPEN_FLAGS, dir_fd=fd))
    finally:
        os.close(fd)


def _open_checked(folder: str, name: str, parts: list[str], root: str) -> BinaryIO:
    """Where ``dir_fd`` is not supported (Windows): check each folder, then open."""
    prefix = root
    for part in parts:
        prefix = os.path.join(prefix, part)
        if _is_symlink(prefix):
            raise SymlinkInPathError(errno.ELOOP, "a folder on the path is a symlink")
    return _regular(os.open(os.path.join(folder, name), _OPEN_FLAGS))


def _is_symlink_at(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _regular(fd: int) -> BinaryIO:
    """``fd`` as a binary file if it is a regular file (it is closed otherwise)."""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "no longer a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_OPEN_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
_DIR_FDS = os.open in os.supports_dir_fd and hasattr(os, "O_DIRECTORY") and _NOFOLLOW != 0
_LINK_ERRNOS = frozenset({errno.ELOOP, errno.EMLINK})  # EMLINK: FreeBSD's O_NOFOLLOW


def _notes(
    submodules: list[str], nested: list[str], undecodable: list[str], linked: list[str]
) -> tuple[str, ...]:
    notes = []
    if linked:
        notes.append(f"folders that are symlinks are not followed: {_some(linked)}")
    if submodules:
        notes.append(f"submodules are not entered: {_some(submodules)}")
    if nested:
        notes.append(f"nested git repositories are not entered: {_some(nested)}")
    if undecodable:
        notes.append(f"file names that are not valid UTF-8 are skipped: {_some(undecodable)}")
    return tuple(notes)


def _some(paths: Sequence[str]) -> str:
    shown = ", ".join(repr(p) if _needs_quotes(p) else p for p in paths[:_NOTE_MAX_PATHS])
    extra = len(paths) - _NOTE_MAX_PATHS
    return f"{shown} and {extra} more" if extra > 0 else shown


def _needs_quotes(path: str) -> bool:
    return not path.isprintable() or " " in path or "," in path


# --- running git ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _GitCall:
    args: tuple[str, ...]
    proc: subprocess.Popen[bytes]


def _finish_all(calls: Sequence[_GitCall]) -> list[bytes]:
    """Wait for every call (none is left running), then fail on the first that failed.

    Raises:
        RepoError: A git call exited with an error; git's own message is included.
    """
    results = [(call, *call.proc.communicate()) for call in calls]
    for call, _, err in results:
        if call.proc.returncode != 0:
            raise RepoError(_git_failure(call.args, err))
    return [out for _, out, _ in results]


def _popen_git(
    args: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start git (never through a shell) with its output piped back.

    Raises:
        RepoError: git is not installed, or the folder to run it in is gone.
    """
    try:
        return subprocess.Popen(
            ["git", *args],
            cwd=cwd,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:
        if not os.path.isdir(cwd):
            raise RepoError(f"the folder {cwd} no longer exists") from None
        if isinstance(exc, FileNotFoundError):
            raise RepoError("git is not installed or not on PATH; codefind needs git") from None
        raise RepoError(f"cannot run git in {cwd}: {exc.strerror or exc}") from None


def _run_git(
    args: Sequence[str], *, cwd: Path, check: bool = True, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    proc = _popen_git(args, cwd=cwd, env=env)
    out, err = proc.communicate()
    if check and proc.returncode != 0:
        raise RepoError(_git_failure(args, err))
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _git_failure(args: Sequence[str], stderr: bytes) -> str:
    message = os.fsdecode(stderr).strip().replace("fatal: ", "") or "no message"
    return f"`git {' '.join(a for a in args if a != '--')[:80]}` failed: {message}"


def _rev_parse_lines(start: Path, shown: Path) -> list[str]:
    """Ask git where the repository is, in one call.

    Prints: is-bare, is-inside-work-tree, absolute git dir, common dir (relative to
    ``start``), top level. The top level is missing outside a work tree (git stops there).
    """
    env = {**os.environ, "LC_ALL": "C"}  # English messages, to recognise "not a repository"
    result = _run_git(
        ["rev-parse", "--is-bare-repository", "--is-inside-work-tree", "--absolute-git-dir",
         "--git-common-dir", "--show-toplevel"],
        cwd=start, check=False, env=env,
    )  # fmt: skip
    lines = os.fsdecode(result.stdout).split("\n")
    lines = [line for line in lines if line]
    if len(lines) >= 4:
        return lines
    message = os.fsdecode(result.stderr).strip()
    if "not a git repository" in message or not message:
        raise NotARepositoryError(
            f"not inside a git repository: {shown} (run `git init` or cd into a repository)"
        )
    raise RepoError(f"git cannot use the repository at {shown}: {message.replace('fatal: ', '')}")


def _start_folder(path: Path) -> Path:
    absolute = Path(os.path.abspath(path))
    if absolute.is_dir():
        return absolute
    if absolute.exists() or absolute.is_symlink():
        return absolute.parent
    raise NotARepositoryError(f"no such file or folder: {path}")


# --- small helpers -------------------------------------------------------------------------


def _batches(paths: Sequence[str], max_bytes: int) -> Iterator[list[str]]:
    batch: list[str] = []
    size = 0
    for path in paths:
        cost = len(path.encode("utf-8")) + 1
        if batch and size + cost > max_bytes:
            yield batch
            batch, size = [], 0
        batch.append(path)
        size += cost
    if batch:
        yield batch


def _glob_escape(path: str) -> str:
    """``path`` as a gitignore pattern that matches exactly that path."""
    return "".join("\\" + ch if ch in "*?[]\\!# " else ch for ch in path)


def _keyed_name(name: str, path: Path) -> str:
    """A folder name for ``path``: readable (``name``) and unique (a hash of the path)."""
    digest = hashlib.sha256(os.fsencode(str(path))).hexdigest()[:12]
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:40] or "repo"
    return f"{readable}-{digest}"


def _is_plain_relative(rel: str) -> bool:
    """Whether ``rel`` is a relative path with no ``..`` (it cannot escape the root)."""
    if not rel or rel.startswith("/") or "\0" in rel or os.path.isabs(rel):
        return False
    return ".." not in rel.replace("\\", "/").split("/")
