"""The live index: a real work tree watched with watchfiles, updated by real indexing runs.

Each test uses a real git repository and the built-in model. Waits are bounded polls for a
behaviour (a file found, the index current), never assertions about how long it took.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from codefind.config import load_settings
from codefind.live import LiveIndex
from codefind.models import Hit
from codefind.relocate import locate
from codefind.repo import Repository
from codefind.watch import WorktreeWatcher
from codefind.workspace import Workspace
from tests.gitutil import commit_all, git, write_files

SOURCES = {
    "billing/invoice.py": (
        '"""Invoices."""\n\n\nclass Invoice:\n    """Lines and a total."""\n\n'
        "    def __init__(self, lines):\n        self.lines = lines\n\n"
        "    def total_with_tax(self, tax_rate):\n"
        '        """Sum the price of every line and add the sales tax."""\n'
        "        subtotal = sum(line.price for line in self.lines)\n"
        "        return subtotal * (1 + tax_rate)\n"
    ),
    "text/slug.py": (
        "import re\n\n\ndef slugify(title):\n"
        '    """Turn a title into a lowercase URL slug."""\n'
        '    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")\n'
    ),
    ".gitignore": "build/\n",
}


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def live(git_repo: Callable[..., Path]) -> Iterator[LiveIndex]:
    """A live index on a fresh repository, started and current."""
    repo = git_repo(SOURCES)
    workspace = Workspace.for_repository(repo, load_settings())
    index = LiveIndex(workspace)
    index.start()
    try:
        assert index.wait_watching(30.0)
        assert index.wait_current(120.0), index.state
        yield index
    finally:
        index.stop()
        workspace.close()


def paths_found(index: LiveIndex, query: str) -> list[str]:
    service = index.workspace.search_service()
    return [h.path for h in service.search(query, limit=5).hits]


def test_a_file_created_outside_is_found_within_seconds(live: LiveIndex) -> None:
    root = live.workspace.root
    (root / "net").mkdir()
    (root / "net" / "retry.py").write_text(
        "def download_with_backoff(url):\n"
        '    """Fetch a page, sleeping longer after each failed attempt."""\n'
        "    return url\n"
    )
    wait_for(lambda: "net/retry.py" in paths_found(live, "download_with_backoff"), "the new file")
    wait_for(lambda: live.state.current, "the index to be current")
    assert paths_found(live, "fetch a page again after a failure")[0] == "net/retry.py"


def test_changed_and_deleted_files_are_seen(live: LiveIndex) -> None:
    root = live.workspace.root
    (root / "text" / "slug.py").unlink()
    invoice = root / "billing" / "invoice.py"
    invoice.write_text(invoice.read_text() + "\n\ndef refund_order(order):\n    return -order\n")
    wait_for(lambda: "billing/invoice.py" in paths_found(live, "refund_order"), "the change")
    wait_for(lambda: "text/slug.py" not in paths_found(live, "slugify"), "the deletion")


def test_a_branch_switch_is_one_update_not_one_per_file(
    git_repo: Callable[..., Path],
) -> None:
    repo = git_repo(SOURCES)
    git(repo, "checkout", "-q", "-b", "many")
    write_files(
        repo,
        {f"pkg/mod_{i:03}.py": f"def handler_{i}(event):\n    return {i}\n" for i in range(300)},
    )
    commit_all(repo, "300 modules")
    git(repo, "checkout", "-q", "main")
    workspace = Workspace.for_repository(repo, load_settings())
    index = LiveIndex(workspace)
    index.start()
    try:
        assert index.wait_watching(30.0) and index.wait_current(120.0)
        before = index.state.updates
        git(repo, "checkout", "-q", "many")
        wait_for(lambda: "pkg/mod_299.py" in paths_found(index, "handler_299"), "the new branch")
        wait_for(lambda: index.state.current, "the index to be current")
        files, _ = workspace.store().state.counts()
        assert files == 303  # the three files of main, and 300 more
        # 300 files, HEAD and the git index changed: one batch, one run (two if the checkout
        # outlasted the watcher's quiet period on a busy machine), never hundreds.
        assert 1 <= index.state.updates - before <= 2
    finally:
        index.stop()
        workspace.close()


def test_the_watcher_ignores_git_internals_ignored_folders_and_scratch_files(
    git_repo: Callable[..., Path],
) -> None:
    repo = Repository.discover(git_repo(SOURCES))
    watcher = WorktreeWatcher(repo, lambda _: None)
    root, git_dir = str(repo.root), str(repo.git_dir)
    kept = watcher.relevant(
        [
            f"{root}/build/out.py",  # git-ignored
            f"{root}/src/new.py",
            f"{git_dir}/HEAD",  # a checkout: a trigger
        ]
    )
    assert kept == frozenset({"src/new.py", ""})
    assert not watcher._wanted(None, f"{git_dir}/codefind/state.db")  # our own index
    assert not watcher._wanted(None, f"{git_dir}/objects/ab/cdef")
    assert not watcher._wanted(None, f"{root}/node_modules/x/index.js")
    assert not watcher._wanted(None, f"{root}/.invoice.py.swp")
    assert watcher._wanted(None, f"{git_dir}/index")
    assert watcher._wanted(None, f"{root}/billing/invoice.py")


def test_writes_to_ignored_folders_never_reach_the_callback(git_repo: Callable[..., Path]) -> None:
    repo = Repository.discover(git_repo(SOURCES))
    batches: list[frozenset[str]] = []
    seen = threading.Event()

    def record(paths: frozenset[str]) -> None:
        batches.append(paths)
        if "real.py" in paths:
            seen.set()

    watcher = WorktreeWatcher(repo, record)
    watcher.start()
    try:
        assert watcher.wait_ready(30.0)
        write_files(repo.root, {f"build/gen_{i}.py": "x = 1\n" for i in range(50)})
        write_files(repo.root, {"node_modules/pkg/index.js": "module.exports = 1\n"})
        (repo.git_dir / "codefind").mkdir(exist_ok=True)
        (repo.git_dir / "codefind" / "scratch").write_text("index files change all the time")
        (repo.root / "real.py").write_text("x = 2\n")
        assert seen.wait(30.0), batches
    finally:
        watcher.stop()
    everything = set().union(*batches)
    assert "real.py" in everything
    assert not any(p.startswith(("build/", "node_modules/")) or "codefind" in p for p in everything)


def test_an_update_that_fails_is_reported_and_searching_goes_on(live: LiveIndex) -> None:
    from codefind.store import write_lock

    root = live.workspace.root
    with write_lock(live.workspace.location.index_dir):  # another process indexing
        (root / "late.py").write_text("def arrives_late():\n    return 1\n")
        live.request()
        wait_for(lambda: live.state.updating, "an update to start")
        assert paths_found(live, "slugify")[0] == "text/slug.py"  # searching is not blocked
    wait_for(lambda: "late.py" in paths_found(live, "arrives_late"), "the update after the lock")


# --- re-locating a hit in a changed file ---------------------------------------------------


def hit_for(root: Path, query: str) -> Hit:
    workspace = Workspace.for_repository(root, load_settings())
    try:
        workspace.indexer().run()
        return workspace.search_service().search(query, limit=1).hits[0]
    finally:
        workspace.close()


def test_an_unchanged_file_opens_at_the_indexed_line(git_repo: Callable[..., Path]) -> None:
    repo = git_repo(SOURCES)
    hit = hit_for(repo, "total_with_tax")
    where = locate(repo, hit)
    assert (where.how, where.line) == ("unchanged", 10) and hit.line == 10


def test_lines_inserted_above_move_the_hit_by_symbol(git_repo: Callable[..., Path]) -> None:
    repo = git_repo(SOURCES)
    hit = hit_for(repo, "total_with_tax")
    path = repo / "billing" / "invoice.py"
    path.write_text("# a note\n" * 10 + path.read_text())
    where = locate(repo, hit)
    assert (where.how, where.line, where.start_line) == ("symbol", 20, hit.start_line + 10)
    assert where.moved


def test_a_renamed_class_is_found_by_the_line_text(git_repo: Callable[..., Path]) -> None:
    repo = git_repo(SOURCES)
    hit = hit_for(repo, "total_with_tax")
    path = repo / "billing" / "invoice.py"
    text = path.read_text().replace("class Invoice:", "class Bill:")
    path.write_text("\n\n" + text)
    where = locate(repo, hit)  # the symbol is Bill.total_with_tax now; its def line is not
    assert (where.how, where.line) == ("text", 12)


def test_deleted_code_is_gone_not_opened_at_a_stale_line(git_repo: Callable[..., Path]) -> None:
    repo = git_repo(SOURCES)
    hit = hit_for(repo, "total_with_tax")
    (repo / "billing" / "invoice.py").write_text('"""Invoices."""\n')
    assert locate(repo, hit).how == "gone"
    (repo / "billing" / "invoice.py").unlink()
    assert not locate(repo, hit).found
