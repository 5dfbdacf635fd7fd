# SPDX-License-Identifier: BSD-3-Clause
"""Reading inputs and writing outputs so that a mistake is one line and nothing is ever left half-written.

Inputs: :func:`read_json` turns every way a JSON input can be unreadable (missing, a directory, not UTF-8, not JSON)
into one ``VenomError`` line naming the file. Outputs: :func:`check_outputs` runs before any work (each output
writable, not a directory where a file goes, none of the command's inputs); :func:`atomic_path` writes beside the
target and renames onto it only when complete, with the permissions of a plain ``open()``, removing the temporary
file on any failure, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from venom_fpga.errors import VenomError

PathLike = str | os.PathLike


class OutputError(VenomError):
    """An output path that cannot be written (or would overwrite an input), explained in one line."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C's KeyboardInterrupt so that ``finally`` blocks remove temporary files."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum: int, frame: Any) -> None:
    raise Interrupted(signum)


@contextmanager
def interruptible() -> Iterator[None]:
    """While inside, SIGTERM and SIGHUP raise :class:`Interrupted` instead of killing the process at once (their
    default), so temporary files are cleaned up. Only where the default is still set, and only in the main thread
    (where Python runs signal handlers); SIGINT already raises KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) is signal.SIG_DFL:
            previous[sig] = signal.signal(sig, _raise_interrupted)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# ------------------------------------------------------------------ inputs
def read_json(path: PathLike, what: str, error: type[VenomError] = VenomError) -> Any:
    """The parsed JSON of an input file, or ``error`` in one line naming the file (``what``: e.g. "name map")."""
    path = Path(path)
    if path.exists() and not path.is_file() and not path.is_dir():  # a pipe or device: reading could block forever
        raise error(f"{path}: not a regular file")
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise error(f"{path}: no such {what} file") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, not a {what} file") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not a {what} file (not UTF-8 text)") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} file ({exc.strerror or exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{path}: {what} is not valid JSON ({exc})") from None
    except RecursionError:
        raise error(f"{path}: {what} is nested too deeply") from None


# ------------------------------------------------------------------ outputs
def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_output_path(path: PathLike, what: str = "", directory: bool = False) -> Path:
    """One output: a non-empty path whose nearest existing ancestor is a writable directory, and not a directory
    where a file goes (``directory``: not a file where a directory goes). ``what`` prefixes the message (an option)."""
    label = f"{what} {path}" if what else str(path)
    if str(path) == "":
        raise OutputError(f"{what or 'output'}: empty path")
    p = Path(path)
    if directory and p.exists() and not p.is_dir():
        raise OutputError(f"{label}: exists and is not a directory")
    if not directory and (p.is_dir() or str(path).endswith(("/", os.sep))):
        raise OutputError(f"{label}: is a directory (give a file name)")
    if not directory and p.exists() and not p.is_file():  # a device or pipe: renaming onto it would replace it
        raise OutputError(f"{label}: exists and is not a regular file")
    base = _nearest_existing(p.parent)  # where the temporary file and the rename happen
    if not base.is_dir():
        raise OutputError(f"{label}: {base} is not a directory")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputError(f"{label}: cannot write in {base} (permission denied)")
    return p


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare where they point
        return a.resolve() == b.resolve()


# What an output is: a file (replaced atomically), a directory files are written into, or a directory replaced as a
# whole (which must not contain an input).
FILE, DIRECTORY, REPLACED = "file", "directory", "replaced directory"


def check_outputs(outputs: Iterable[tuple[str, PathLike | None, str]], inputs: Mapping[str, PathLike | None] = {}
                  ) -> None:
    """Before a command does any work: every output ``(option, path, kind)`` (path None: not given; kind FILE,
    DIRECTORY or REPLACED) passes :func:`check_output_path`, no two output files are the same, no output is one of
    the ``inputs`` (option -> path), and no REPLACED directory contains an input."""
    given = [(opt, path, kind) for opt, path, kind in outputs if path is not None]
    for opt, path, kind in given:
        check_output_path(path, opt, directory=kind != FILE)
    files = [(opt, Path(path)) for opt, path, kind in given if kind == FILE]
    for i, (a, pa) in enumerate(files):
        for b, pb in files[i + 1:]:
            if _same(pa, pb):
                raise OutputError(f"{a} and {b} are the same file ({pa})")
    for opt, path, kind in given:
        path = Path(path)
        for in_opt, src in inputs.items():
            if src is None or str(src) == "" or not Path(src).exists():
                continue
            src = Path(src)
            if _same(path, src):
                raise OutputError(f"{opt} {path}: is also the input {in_opt}; write the output elsewhere")
            if kind == REPLACED and path.resolve() in src.resolve().parents:
                raise OutputError(f"{opt} {path}: contains the input {in_opt} {src}, which replacing it would delete")


@contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds. The temporary file
    is removed on any exception, Ctrl-C or SIGTERM (:func:`interruptible`)."""
    path = check_output_path(path)
    with interruptible(), _parents(path) as parent:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp" + path.suffix)
        os.close(fd)
        try:
            yield Path(tmp)
            # after the block: some writers (safetensors) replace the file, and mkstemp makes it 0600; outputs get the
            # permissions of a plain open()
            os.chmod(tmp, 0o666 & ~umask())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


@contextmanager
def _parents(path: Path) -> Iterator[Path]:
    """The parent directory of ``path``, made if missing, and removed again (the ones made here) if the block fails:
    a failing command leaves no empty directory behind either."""
    made = []
    parent = path.parent
    while not parent.exists():
        made.append(parent)
        parent = parent.parent
    for d in reversed(made):
        d.mkdir(exist_ok=True)
    try:
        yield path.parent
    except BaseException:
        for d in made:  # innermost first
            try:
                d.rmdir()
            except OSError:  # not empty: something else writes there too
                break
        raise


@contextmanager
def atomic_paths(*paths: PathLike) -> Iterator[list[Path]]:
    """:func:`atomic_path` for several outputs of one command: each is renamed into place only when the whole block
    succeeds, so a failure while making any of them leaves every one as it was."""
    with ExitStack() as stack:
        yield [stack.enter_context(atomic_path(p)) for p in paths]


def umask() -> int:
    """The process umask (reading it needs setting it; put straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _finite_or_none(obj: Any) -> Any:
    """NaN/Inf are not JSON: strict readers (jq, browsers) reject them, so they become null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_none(v) for v in obj]
    return obj


def json_text(obj: Any, indent: int | None = 2) -> str:
    """Strict JSON (NaN/Inf -> null): what every report and ``--json`` output prints."""
    return json.dumps(_finite_or_none(obj), indent=indent, allow_nan=False)


def write_json(path: PathLike, obj: Any) -> Path:
    """Write strict JSON (NaN -> null), indented, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json_text(obj) + "\n")
    return Path(path)


# ------------------------------------------------------------------ provenance of generated files
def file_hash(*parts: bytes | str | os.PathLike) -> str:
    """sha256 over the given byte strings / file contents (paths), first 16 hex digits."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, (bytes, bytearray)):
            h.update(part)
        else:
            h.update(Path(part).read_bytes() if Path(str(part)).is_file() else str(part).encode())
    return h.hexdigest()[:16]


def generated_header(command: str, inputs: dict[str, bytes | str | os.PathLike]) -> str:
    """The one provenance line every generated file starts with (behind its comment marker):
    ``GENERATED by <command> from <name> (sha256 <h>), ... -- DO NOT EDIT``."""
    srcs = ", ".join(f"{name} (sha256 {file_hash(src)})" for name, src in inputs.items())
    return f"GENERATED by {command} from {srcs} -- DO NOT EDIT"


def check_generated_header(header: str) -> str:
    if "\n" in header or not header.startswith("GENERATED by "):
        raise ValueError("header must be one line starting with 'GENERATED by ' (see files.generated_header())")
    return header
