"""The repository walk on real git repositories: what is listed, skipped, hashed and read."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import codefind.repo as repo_module
from codefind.errors import NotARepositoryError, RepoError
from codefind.models import FileSkipped, SourceFile, WalkResult
from codefind.repo import Repository, blob_id, decode_source, path_skip_reason
from tests.gitutil import commit_all, git, make_repo, write_files

MakeRepo = Callable[..., Path]


def walk(root: Path, **kwargs: object) -> WalkResult:
    return Repository.discover(root).walk(**kwargs)  # type: ignore[arg-type]


def by_path(result: WalkResult) -> dict[str, SourceFile]:
    return {f.path: f for f in result.files}


def hash_object(root: Path, path: str) -> str:
    return git(root, "hash-object", "--", path).strip()


def make_old(path: Path) -> None:
    """Give a file an mtime well before now, so the walk records it (not racy)."""
    os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000), follow_symlinks=False)


# --- discovery ------------------------------------------------------------------------------


def test_discover_from_a_sub_folder_and_from_a_file(git_repo: MakeRepo) -> None:
    root = git_repo({"src/pkg/mod.py": "x = 1\n", "README.md": "hi\n"})
    from_folder = Repository.discover(root / "src" / "pkg")
    from_file = Repository.discover(root / "src" / "pkg" / "mod.py")

    assert from_folder.root == root.resolve()
    assert from_file == from_folder
    assert from_folder.git_dir == (root / ".git").resolve()
    assert from_folder.common_dir == (root / ".git").resolve()
    # Walked from a sub-folder, the whole repository is listed.
    assert {f.path for f in from_folder.walk().files} == {"src/pkg/mod.py", "README.md"}
    assert from_folder.relative_path(root / "src" / "pkg") == "src/pkg"
    assert from_folder.relative_path(root) == ""


def test_discover_through_a_symlinked_path(git_repo: MakeRepo, tmp_path: Path) -> None:
    root = git_repo({"src/a.py": "a\n"})
    link = tmp_path / "link-to-src"
    os.symlink(root / "src", link)

    repo = Repository.discover(link)

    assert repo.root == root.resolve()
    assert repo.common_dir == repo.git_dir == (root / ".git").resolve()


def test_relative_path_outside_the_repository_is_refused(
    git_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = Repository.discover(git_repo({"a.py": "a\n"}))
    with pytest.raises(NotARepositoryError):
        repo.relative_path(tmp_path)


def test_a_folder_outside_any_repository_is_a_clear_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(NotARepositoryError) as caught:
        Repository.discover(plain)
    assert caught.value.exit_code == 2
    assert "not inside a git repository" in caught.value.message
    assert str(plain) in caught.value.message
    assert "git init" in caught.value.message


def test_a_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NotARepositoryError, match="no such file or folder"):
        Repository.discover(tmp_path / "nowhere")


def test_a_bare_repository_is_refused_with_the_reason(tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    with pytest.raises(NotARepositoryError, match="bare") as caught:
        Repository.discover(bare)
    assert caught.value.exit_code == 2
    assert "work tree" in caught.value.message
    with pytest.raises(NotARepositoryError, match="bare"):
        Repository.discover(bare / "objects")


def test_inside_the_git_folder_is_not_a_work_tree(git_repo: MakeRepo) -> None:
    root = git_repo({"a.py": "a\n"})
    with pytest.raises(NotARepositoryError, match="not a work tree"):
        Repository.discover(root / ".git")


def test_missing_git_is_a_repo_error(
    git_repo: MakeRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = git_repo({"a.py": "a\n"})
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    with pytest.raises(RepoError, match="git is not installed"):
        Repository.discover(root)


def test_git_failing_during_the_walk_is_a_repo_error_with_gits_message(
    git_repo: MakeRepo,
) -> None:
    root = git_repo({"a.py": "a\n"})
    repo = Repository.discover(root)
    (root / ".git" / "index").write_bytes(b"not an index at all")

    with pytest.raises(RepoError, match="ls-files") as caught:
        repo.walk()
    assert "index" in caught.value.message
    assert caught.value.exit_code == 2


def test_a_repository_deleted_after_discovery_is_a_repo_error(git_repo: MakeRepo) -> None:
    root = git_repo({"a.py": "a\n"})
    repo = Repository.discover(root)
    shutil.rmtree(root)

    with pytest.raises(RepoError, match="no longer exists"):
        repo.walk()


def test_worktrees_have_their_own_index_but_share_the_cache(
    git_repo: MakeRepo, tmp_path: Path
) -> None:
    root = git_repo({"a.py": "a = 1\n"})
    other = tmp_path / "other-checkout"
    git(root, "worktree", "add", "-q", "-b", "feature", str(other))

    main = Repository.discover(root)
    linked = Repository.discover(other)

    assert linked.root == other.resolve()
    assert linked.common_dir == main.common_dir == (root / ".git").resolve()
    assert linked.git_dir == (root / ".git" / "worktrees" / other.name).resolve()
    assert main.index_dir() == root.resolve() / ".git" / "codefind"
    assert linked.index_dir() != main.index_dir()
    assert linked.cache_dir() == main.cache_dir() == root.resolve() / ".git" / "codefind" / "cache"
    assert [f.path for f in linked.walk().files] == ["a.py"]


def test_index_dir_override_moves_both_into_a_folder_per_repository(
    git_repo: MakeRepo, tmp_path: Path
) -> None:
    root = git_repo({"a.py": "a\n"})
    repo = Repository.discover(root)
    override = tmp_path / "elsewhere"
    folder = repo.index_dir(override)
    assert folder.parent == override and folder.name.startswith("repo-")
    assert repo.cache_dir(override) == folder / "cache"

    other = Repository.discover(git_repo({"b.py": "b\n"}, name="second/repo"))
    assert other.index_dir(override).parent == override, "same name, another folder"
    assert other.index_dir(override) != folder and other.cache_dir(override) != folder / "cache"

    checkout = tmp_path / "checkout"
    git(root, "worktree", "add", "-q", "-b", "feature", str(checkout))
    linked = Repository.discover(checkout)
    assert linked.cache_dir(override) == repo.cache_dir(override), "worktrees share the cache"
    assert linked.index_dir(override).is_relative_to(folder)
    assert linked.index_dir(override) != folder, "but each checkout has its own index"


# --- what is listed and with which id ---------------------------------------------------------


def test_tracked_and_untracked_files_are_listed_ignored_ones_are_not(git_repo: MakeRepo) -> None:
    root = git_repo(
        {
            "src/app.py": "def main():\n    pass\n",
            ".gitignore": "*.log\nbuild/\n",
            "docs/guide.md": "# Guide\n",
        }
    )
    write_files(root, {"new.py": "print('new')\n", "debug.log": "noise\n", "build/out.py": "x\n"})

    result = walk(root)
    files = by_path(result)

    assert set(files) == {"src/app.py", ".gitignore", "docs/guide.md", "new.py"}
    for path, file in files.items():
        assert file.content_id == hash_object(root, path)
        assert file.size == (root / path).stat().st_size
    assert result.skipped == {}
    assert result.files_seen == 4
    assert [f.path for f in result.files] == sorted(files)


def test_a_dirty_file_gets_the_hash_of_its_new_content(git_repo: MakeRepo) -> None:
    root = git_repo({"a.py": "old\n", "b.py": "same\n"})
    before = by_path(walk(root))
    (root / "a.py").write_text("new content\n")
    write_files(root, {"staged.py": "staged\n"})
    git(root, "add", "staged.py")

    after = by_path(walk(root))

    assert after["a.py"].content_id == hash_object(root, "a.py") != before["a.py"].content_id
    assert after["b.py"].content_id == before["b.py"].content_id
    assert after["staged.py"].content_id == hash_object(root, "staged.py")
    # Committing keeps the id: nothing would be re-embedded.
    commit_all(root)
    assert by_path(walk(root))["a.py"].content_id == after["a.py"].content_id


def test_a_file_deleted_from_the_work_tree_is_not_listed(git_repo: MakeRepo) -> None:
    root = git_repo({"keep.py": "k\n", "gone.py": "g\n", "pkg/gone_too.py": "g2\n"})
    (root / "gone.py").unlink()
    shutil.rmtree(root / "pkg")

    result = walk(root)

    assert [f.path for f in result.files] == ["keep.py"]
    assert result.skipped == {}
    assert result.files_seen == 1


def test_intent_to_add_file_is_hashed_not_taken_as_empty(git_repo: MakeRepo) -> None:
    root = git_repo({"a.py": "a\n"})
    write_files(root, {"planned.py": "def planned(): ...\n"})
    git(root, "add", "--intent-to-add", "planned.py")

    files = by_path(walk(root))

    assert files["planned.py"].content_id == hash_object(root, "planned.py")


def test_a_merge_conflict_gives_one_entry_with_the_work_tree_content(git_repo: MakeRepo) -> None:
    root = git_repo({"c.py": "base\n"})
    git(root, "checkout", "-q", "-b", "theirs")
    (root / "c.py").write_text("theirs\n")
    commit_all(root, "theirs")
    git(root, "checkout", "-q", "main")
    (root / "c.py").write_text("ours\n")
    commit_all(root, "ours")
    subprocess.run(["git", "merge", "-q", "theirs"], cwd=root, capture_output=True, check=False)
    assert len(git(root, "ls-files", "--stage").splitlines()) == 3  # a real conflict

    result = walk(root)

    assert [f.path for f in result.files] == ["c.py"]
    assert result.files[0].content_id == hash_object(root, "c.py")
    assert "<<<<<<<" in Repository.discover(root).read(result.files[0])


def test_sha256_repositories_get_sha256_blob_ids(tmp_path: Path) -> None:
    root = tmp_path / "sha256"
    root.mkdir()
    git(root, "init", "-q", "--object-format=sha256")
    write_files(root, {"a.py": "a\n"})
    commit_all(root)
    write_files(root, {"a.py": "changed\n", "b.py": "untracked\n"})

    files = by_path(walk(root))

    assert files["a.py"].content_id == hash_object(root, "a.py")
    assert len(files["b.py"].content_id) == 64
    assert files["b.py"].content_id == hash_object(root, "b.py")


def test_blob_id_is_gits_hash() -> None:
    assert blob_id(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
    assert blob_id(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"


# --- the known shortcut ---------------------------------------------------------------------


def test_known_id_is_reused_when_size_and_mtime_match(git_repo: MakeRepo) -> None:
    root = git_repo({"tracked.py": "t\n"})
    write_files(root, {"untracked.py": "u = 1\n"})
    (root / "tracked.py").write_text("dirty!\n")
    for name in ("untracked.py", "tracked.py"):
        make_old(root / name)
    first = by_path(walk(root))
    assert first["untracked.py"].mtime_ns == (root / "untracked.py").stat().st_mtime_ns

    # A previous run that recorded other ids for the same size and mtime: trusted, not re-read.
    known = {
        path: SourceFile(path, "previous-" + path, f.size, f.mtime_ns) for path, f in first.items()
    }
    again = by_path(walk(root, known=known))

    assert again["untracked.py"].content_id == "previous-untracked.py"
    assert again["tracked.py"].content_id == "previous-tracked.py"


def test_known_id_is_not_reused_when_the_content_changed(git_repo: MakeRepo) -> None:
    root = git_repo({"clean.py": "c\n"})
    write_files(root, {"grew.py": "u = 1\n", "touched.py": "same size\n"})
    for name in ("grew.py", "touched.py"):
        make_old(root / name)
    first = by_path(walk(root))
    known = {path: SourceFile(path, "stale", f.size, f.mtime_ns) for path, f in first.items()}

    (root / "grew.py").write_text("u = 1000\n")
    (root / "touched.py").write_text("SAME SIZE\n")  # same size, new mtime
    again = by_path(walk(root, known=known))

    assert again["grew.py"].content_id == hash_object(root, "grew.py")
    assert again["touched.py"].content_id == hash_object(root, "touched.py")
    # Clean tracked files always take git's id, whatever was known.
    assert again["clean.py"].content_id == hash_object(root, "clean.py")


def test_a_file_modified_just_now_has_unknown_mtime_and_is_rehashed(git_repo: MakeRepo) -> None:
    root = git_repo({"a.py": "a\n"})
    write_files(root, {"fresh.py": "fresh\n"})

    first = by_path(walk(root))
    assert first["fresh.py"].mtime_ns == 0  # too recent to trust (racy)

    known = {"fresh.py": SourceFile("fresh.py", "stale", first["fresh.py"].size, 0)}
    assert by_path(walk(root, known=known))["fresh.py"].content_id == hash_object(root, "fresh.py")


# --- .codefindignore ----------------------------------------------------------------------------


def test_codefindignore_at_root_and_nested_for_tracked_and_untracked_files(
    git_repo: MakeRepo,
) -> None:
    root = git_repo(
        {
            ".codefindignore": "fixtures/\n*.snap\n!keep.snap\n",
            "src/.codefindignore": "gen/\n",
            "fixtures/data.py": "d\n",
            "tests/out.snap": "s\n",
            "tests/keep.snap": "k\n",
            "src/gen/g.py": "g\n",
            "src/main.py": "m\n",
            "gen/top.py": "not under src, kept\n",
        }
    )
    write_files(root, {"fixtures/new.py": "n\n", "src/gen/new.py": "n\n", "-dash.snap": "d\n"})

    result = walk(root)

    assert set(by_path(result)) == {
        ".codefindignore",
        "src/.codefindignore",
        "tests/keep.snap",
        "src/main.py",
        "gen/top.py",
    }
    assert result.skipped == {"ignored": 6}
    assert result.files_seen == 11


def test_a_git_ignored_codefindignore_still_applies(git_repo: MakeRepo) -> None:
    root = git_repo({".gitignore": ".codefindignore\n", "a.py": "a\n", "big_fixture.py": "b\n"})
    write_files(root, {".codefindignore": "big_fixture.py\n"})

    result = walk(root)

    assert set(by_path(result)) == {".gitignore", "a.py"}
    assert result.skipped == {"ignored": 1}


def test_untracked_codefindignore_checks_survive_many_batches(
    git_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = git_repo({".codefindignore": "skip_*\n"})
    write_files(root, {f"dir{i}/skip_{i}.py": "x\n" for i in range(30)})
    write_files(root, {f"dir{i}/keep_{i}.py": "x\n" for i in range(30)})
    monkeypatch.setattr(repo_module, "_ARG_BYTES_PER_CALL", 40)

    result = walk(root)

    assert result.skipped == {"ignored": 30}
    assert len(result.files) == 31


# --- issue #7: bad inputs --------------------------------------------------------------------------


def test_cheap_skips_by_name_are_counted(git_repo: MakeRepo) -> None:
    root = git_repo(
        {
            "app.py": "a\n",
            "package-lock.json": "{}\n",
            "web/yarn.lock": "x\n",
            "Cargo.lock": "x\n",
            "go.sum": "x\n",
            "node_modules/lib/index.js": "x\n",
            "pkg/vendor/dep/dep.go": "x\n",
            "third_party/x.c": "x\n",
            "logo.PNG": b"\x89PNG",
            "font.woff2": b"wOF2",
            "app.min.js": "x\n",
            "app.js.map": "{}\n",
            "api_pb2.py": "x\n",
            "api.pb.go": "x\n",
            "Form.generated.cs": "x\n",
        }
    )
    result = walk(root)
    assert [f.path for f in result.files] == ["app.py"]
    assert result.skipped == {
        "lock_file": 4,
        "vendored": 3,
        "binary": 2,
        "minified": 2,
        "generated": 3,
    }
    assert result.files_seen == 15


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("src/main.py", None),
        ("vendorized/x.py", None),
        ("build/setup.py", None),
        ("docs/locking.md", None),
        ("a/b/node_modules/c/d.js", "vendored"),
        ("Pods/AFNetworking/x.m", "vendored"),
        ("poetry.lock", "lock_file"),
        ("sub/pnpm-lock.yaml", "lock_file"),
        ("bun.lockb", "lock_file"),
        ("img/photo.JPEG", "binary"),
        ("lib.so", "binary"),
        (".pyc", None),
        ("style.min.css", "minified"),
        ("widget.g.dart", "generated"),
        ("svc_pb2_grpc.py", "generated"),
    ],
)
def test_path_skip_reason(path: str, reason: str | None) -> None:
    assert path_skip_reason(path) == reason


def test_nul_bytes_are_binary_when_read(git_repo: MakeRepo) -> None:
    root = git_repo({"data.txt": b"text\x00more", "ok.txt": "plain\n"})
    repo = Repository.discover(root)
    files = by_path(repo.walk())

    with pytest.raises(FileSkipped) as caught:
        repo.read(files["data.txt"])
    assert caught.value.reason == "binary"
    assert repo.read(files["ok.txt"]) == "plain\n"


def test_a_50_mb_file_is_too_large_and_never_read(
    git_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = git_repo({"small.py": "s\n", "grown.py": "g\n"})
    with (root / "huge.py").open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: instant, no disk used
    with (root / "grown.py").open("r+b") as grown:
        grown.truncate(50 * 1024 * 1024)  # a tracked file that became huge (dirty)
    read_paths: list[str] = []
    real_read = repo_module._read_for_hash

    def spy(root: str, rel: str) -> bytes:
        read_paths.append(rel)
        return real_read(root, rel)

    monkeypatch.setattr(repo_module, "_read_for_hash", spy)

    result = walk(root)

    assert [f.path for f in result.files] == ["small.py"]
    assert result.skipped == {"too_large": 2}
    assert read_paths == []


def test_size_limit_is_configurable_and_rechecked_on_read(git_repo: MakeRepo) -> None:
    root = git_repo({"a.py": "x" * 100 + "\n", "b.py": "short\n"})
    repo = Repository.discover(root, max_file_bytes=50)
    result = repo.walk()
    assert [f.path for f in result.files] == ["b.py"]
    assert result.skipped == {"too_large": 1}

    (root / "b.py").write_text("y" * 60)  # grew past the limit after the walk
    with pytest.raises(FileSkipped) as caught:
        repo.read(result.files[0])
    assert caught.value.reason == "too_large"


def test_a_1_mb_single_line_minified_file(git_repo: MakeRepo) -> None:
    line = "var a=1;" * 124_999  # 999,992 bytes: under the 1 MB limit, so the walk lists it
    root = git_repo({"bundle.js": line, "over.js": line + "x" * 10})
    repo = Repository.discover(root)
    result = repo.walk()

    assert [f.path for f in result.files] == ["bundle.js"]
    assert result.skipped == {"too_large": 1}
    with pytest.raises(FileSkipped) as caught:
        repo.read(result.files[0])
    assert caught.value.reason == "minified"


def test_one_long_line_in_an_ordinary_file_is_kept(git_repo: MakeRepo) -> None:
    text = "".join(f"line_{i} = {i}\n" for i in range(200)) + "DATA = '" + "z" * 5000 + "'\n"
    root = git_repo({"data.py": text})
    repo = Repository.discover(root)
    assert repo.read(repo.walk().files[0]) == text


def test_generated_markers_in_the_first_lines(git_repo: MakeRepo) -> None:
    root = git_repo(
        {
            "api.go": "// Code generated by protoc-gen-go. DO NOT EDIT.\npackage api\n",
            "schema.ts": "/**\n * @generated SignedSource<<abc>>\n */\nexport {}\n",
            "conf.py": "# This file is autogenerated by a tool\nX = 1\n",
            "late.py": "".join(f"x{i} = {i}\n" for i in range(30)) + "# DO NOT EDIT\n",
            "doc.py": '"""Generates reports."""\n',
        }
    )
    repo = Repository.discover(root)
    reasons: dict[str, str] = {}
    for file in repo.walk().files:
        try:
            repo.read(file)
        except FileSkipped as skipped:
            reasons[file.path] = skipped.reason
    assert reasons == {"api.go": "generated", "schema.ts": "generated", "conf.py": "generated"}


def test_invalid_and_mixed_encodings_are_decoded_with_replacement(git_repo: MakeRepo) -> None:
    latin1 = "café = 'naïve'\n".encode("latin-1")
    mixed = "ok = '日本'\n".encode() + b"bad = '\xff\xfe'\n" + b"ok2 = 1\n"
    root = git_repo({"latin1.py": latin1, "mixed.py": mixed})
    repo = Repository.discover(root)
    files = by_path(repo.walk())

    assert repo.read(files["latin1.py"]) == "caf\ufffd = 'na\ufffdve'\n"
    text = repo.read(files["mixed.py"])
    assert text == "ok = '日本'\nbad = '\ufffd\ufffd'\nok2 = 1\n"


def test_boms_crlf_and_empty_files(git_repo: MakeRepo) -> None:
    root = git_repo(
        {
            "bom.py": b"\xef\xbb\xbfx = 1\n",
            "utf16.txt": "\ufeffhello 世界\r\n".encode("utf-16-le"),
            "crlf.py": b"a = 1\r\nb = 2\r\n",
            "empty.py": b"",
        }
    )
    repo = Repository.discover(root)
    files = by_path(repo.walk())

    assert set(files) == {"bom.py", "utf16.txt", "crlf.py", "empty.py"}
    assert repo.read(files["bom.py"]) == "x = 1\n"
    assert repo.read(files["utf16.txt"]) == "hello 世界\r\n"
    assert repo.read(files["crlf.py"]) == "a = 1\r\nb = 2\r\n"
    assert repo.read(files["empty.py"]) == ""
    assert files["empty.py"].content_id == blob_id(b"")


ODD_NAMES = ["with space.py", "new\nline.py", "naïve_日本.py", "-rf", "--help.py", 'quo"te\\s.py']


@pytest.mark.parametrize("tracked", [True, False], ids=["tracked", "untracked"])
def test_odd_file_names_round_trip(git_repo: MakeRepo, tracked: bool) -> None:
    files = {name: f"# {i}\n" for i, name in enumerate(ODD_NAMES)}
    root = git_repo({"anchor.py": "a\n"})
    write_files(root, {f"dir with space/{name}": text for name, text in files.items()})
    if tracked:
        commit_all(root)
    repo = Repository.discover(root)

    walked = by_path(repo.walk())

    assert set(walked) == {"anchor.py"} | {f"dir with space/{name}" for name in ODD_NAMES}
    for name, text in files.items():
        file = walked[f"dir with space/{name}"]
        assert repo.read(file) == text
        assert file.content_id == hash_object(root, f"dir with space/{name}")


def test_leading_dash_names_are_never_options_in_codefindignore_checks(git_repo: MakeRepo) -> None:
    root = git_repo({".codefindignore": "*.tmp\n"})
    write_files(root, {"--version": "v\n", "-o.tmp": "t\n", "--exclude-standard": "e\n"})

    result = walk(root)

    assert set(by_path(result)) == {".codefindignore", "--version", "--exclude-standard"}
    assert result.skipped == {"ignored": 1}


def test_non_utf8_file_names_are_skipped_with_a_note(git_repo: MakeRepo) -> None:
    root = git_repo({"ok.py": "o\n"})
    with open(os.path.join(os.fsencode(root), b"bad\xff.py"), "wb") as handle:
        handle.write(b"x = 1\n")

    result = walk(root)

    assert [f.path for f in result.files] == ["ok.py"]
    assert result.skipped == {"unreadable": 1}
    assert any("not valid UTF-8" in note for note in result.notes)


def test_symlinks_of_every_kind_are_skipped(git_repo: MakeRepo, tmp_path: Path) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("secret = 1\n")
    root = git_repo({"real.py": "r\n", "pkg/mod.py": "m\n"})
    os.symlink("real.py", root / "inside_link.py")
    os.symlink(outside, root / "leaves_repo.py")
    os.symlink("missing.py", root / "broken.py")
    os.symlink("loop.py", root / "loop.py")
    os.symlink("pkg", root / "dir_link")
    git(root, "add", "inside_link.py", "leaves_repo.py")
    git(root, "commit", "-q", "-m", "links")
    os.symlink("b_loop", root / "a_loop")
    os.symlink("a_loop", root / "b_loop")

    result = walk(root)

    assert set(by_path(result)) == {"real.py", "pkg/mod.py"}
    assert result.skipped == {"symlink": 7}
    assert result.files_seen == 9


def test_a_submodule_is_not_entered_and_said_so(git_repo: MakeRepo) -> None:
    library = git_repo({"lib.py": "def lib(): ...\n"}, name="library")
    root = git_repo({"app.py": "a\n"})
    git(
        root, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(library), "libs/dep"
    )
    commit_all(root, "add submodule")
    assert (root / "libs" / "dep" / "lib.py").exists()

    result = walk(root)

    assert set(by_path(result)) == {"app.py", ".gitmodules"}
    assert result.skipped == {"submodule": 1}
    assert result.notes == ("submodules are not entered: libs/dep",)


def test_a_nested_repository_is_not_entered_and_said_so(git_repo: MakeRepo) -> None:
    root = git_repo({"app.py": "a\n"})
    make_repo(root / "experiments", {"x.py": "x\n"})

    result = walk(root)

    assert [f.path for f in result.files] == ["app.py"]
    assert result.skipped == {"submodule": 1}
    assert result.notes == ("nested git repositories are not entered: experiments",)


def test_an_empty_repository_indexes_untracked_files(git_repo: MakeRepo) -> None:
    root = git_repo({"first.py": "print(1)\n"}, commit=False)
    repo = Repository.discover(root)

    result = repo.walk()

    assert repo.head is None
    assert repo.detached is False
    assert [(f.path, f.content_id) for f in result.files] == [
        ("first.py", hash_object(root, "first.py"))
    ]


def test_a_detached_head_works(git_repo: MakeRepo) -> None:
    root = git_repo({"a.py": "v1\n"})
    first = git(root, "rev-parse", "HEAD").strip()
    (root / "a.py").write_text("v2\n")
    commit_all(root)
    repo = Repository.discover(root)
    assert repo.detached is False
    assert repo.head == git(root, "rev-parse", "HEAD").strip()

    git(root, "checkout", "-q", "--detach", first)
    repo = Repository.discover(root)

    assert repo.detached is True
    assert repo.head == first
    assert by_path(repo.walk())["a.py"].content_id == hash_object(root, "a.py")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_file_replaced_by_a_fifo_is_unreadable_and_never_blocks(git_repo: MakeRepo) -> None:
    root = git_repo({"a.py": "a\n", "b.py": "b\n"})
    repo = Repository.discover(root)
    b_file = by_path(repo.walk())["b.py"]
    for name in ("a.py", "b.py"):
        (root / name).unlink()
        os.mkfifo(root / name)

    result = repo.walk()

    assert result.files == ()
    assert result.skipped == {"unreadable": 2}
    with pytest.raises(FileSkipped) as caught:
        repo.read(b_file)
    assert caught.value.reason == "unreadable"


# --- between the walk and the read ---------------------------------------------------------------


def test_a_file_deleted_between_walk_and_read_is_unreadable(git_repo: MakeRepo) -> None:
    root = git_repo({"a.py": "a\n"})
    repo = Repository.discover(root)
    file = repo.walk().files[0]
    (root / "a.py").unlink()

    with pytest.raises(FileSkipped) as caught:
        repo.read(file)
    assert caught.value.reason == "unreadable"


@pytest.mark.parametrize("replacement", ["folder", "symlink"])
def test_a_file_replaced_between_walk_and_read_is_unreadable(
    git_repo: MakeRepo, tmp_path: Path, replacement: str
) -> None:
    root = git_repo({"a.py": "a\n"})
    repo = Repository.discover(root)
    file = repo.walk().files[0]
    (root / "a.py").unlink()
    if replacement == "folder":
        (root / "a.py").mkdir()
    else:
        (tmp_path / "outside.py").write_text("outside\n")
        os.symlink(tmp_path / "outside.py", root / "a.py")

    with pytest.raises(FileSkipped) as caught:
        repo.read(file)
    assert caught.value.reason == "unreadable"


def test_a_file_changed_between_walk_and_read_gives_the_new_text(git_repo: MakeRepo) -> None:
    root = git_repo({"a.py": "old\n"})
    repo = Repository.discover(root)
    file = repo.walk().files[0]
    (root / "a.py").write_text("new and longer\n")

    assert repo.read(file) == "new and longer\n"
    # The next walk sees the change and gives the new id.
    assert repo.walk().files[0].content_id == hash_object(root, "a.py")


@pytest.mark.parametrize("path", ["../outside.py", "/etc/passwd", "a/../../x", ""])
def test_read_refuses_paths_that_leave_the_root(git_repo: MakeRepo, path: str) -> None:
    repo = Repository.discover(git_repo({"a.py": "a\n"}))
    with pytest.raises(FileSkipped) as caught:
        repo.read(SourceFile(path, "x", 1))
    assert caught.value.reason == "unreadable"


# --- decoding, for any bytes -------------------------------------------------------------------


@given(st.binary(max_size=3000))
def test_decode_source_never_fails_except_with_a_skip(data: bytes) -> None:
    try:
        text = decode_source(data)
    except FileSkipped as skipped:
        assert skipped.reason in {"binary", "minified", "generated"}
    else:
        assert isinstance(text, str)


@given(
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00\ufeff"), max_size=500)
)
def test_decode_source_returns_valid_utf8_unchanged(text: str) -> None:
    # Except lone CRs in a file without any LF: old Mac line endings, which become LFs.
    expected = text.replace("\r", "\n") if "\n" not in text else text
    try:
        assert decode_source(text.encode("utf-8")) == expected
    except FileSkipped as skipped:
        assert skipped.reason == "generated"  # random text may spell a marker


@pytest.mark.parametrize("override", [False, True])
def test_every_checkout_sharing_the_cache_is_listed(
    git_repo: Callable[..., Path], tmp_path: Path, override: bool
) -> None:
    """The cache is pruned only of what no checkout uses, so the list must name the index
    folder of the main work tree and of every linked worktree, wherever indexes live."""
    repo = git_repo({"a.py": "x = 1\n"})
    other = tmp_path / "other"
    git(repo, "worktree", "add", "-q", str(other), "-b", "other")
    folder = tmp_path / "indexes" if override else None
    main, linked = Repository.discover(repo), Repository.discover(other)
    assert main.cache_dir(folder) == linked.cache_dir(folder)
    expected = {main.index_dir(folder), linked.index_dir(folder)}
    for index_dir in expected:
        index_dir.mkdir(parents=True, exist_ok=True)  # as indexing each checkout makes them
    assert set(main.checkout_index_dirs(folder)) == expected
    assert set(linked.checkout_index_dirs(folder)) == expected
