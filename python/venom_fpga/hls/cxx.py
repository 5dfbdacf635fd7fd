# SPDX-License-Identifier: BSD-3-Clause
"""Compile C++ against the ap_types headers into a shared library, cached by content.

Used to prove the golden model bit-exact against real ``ap_fixed`` arithmetic without Vitis: tests compile a
translation unit with g++, load the ``.so`` with :mod:`ctypes` and compare integer codes. The HLS C-simulation
backend reuses the same helper for the generated kernels.

The cache key covers the compiler (its ``--version``), every flag, the include directories and the text of the
sources. A cached library is reused only if every file it was built from (the dependency list g++ writes with
``-MMD``: sources and all non-system headers, the ap_types headers included) still has the content it had, so an
edited header triggers a rebuild, into a new file name (a process cannot load two libraries from one path).
Libraries and their manifest (``<name>-<hash>.json``: command, dependencies and their SHA-256) are written under
temporary names and renamed into place, so concurrent builds of the same key never expose a half-written file.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

# -std=c++14 and the three flags that silence the warnings the ap_types headers raise (docs/toolchain.md §5).
BASE_FLAGS = ("-std=c++14", "-shared", "-fPIC")
QUIET_FLAGS = ("-Wno-int-in-bool-context", "-Wno-uninitialized", "-Wno-maybe-uninitialized")
DEFAULT_OPT = "-O2"


class CompileError(RuntimeError):
    """g++ failed; the message holds the command and the tail of its output."""


def ap_types_include_dir() -> Path:
    """The ``ap_types`` directory shipped inside the installed ``hls4ml`` package (``ap_fixed.h``, ``ap_int.h``)."""
    try:
        import hls4ml  # noqa: PLC0415 - optional dependency, only needed for C++ checks
    except ImportError as exc:
        raise RuntimeError(
            "the ap_fixed/ap_int headers come from the hls4ml package, which is not installed: "
            "pip install -c constraints.txt 'hls4ml==1.3.0' (or pip install -e '.[dev]')"
        ) from exc
    path = Path(os.path.dirname(hls4ml.__file__)) / "templates" / "vivado" / "ap_types"
    if not (path / "ap_fixed.h").is_file():
        raise RuntimeError(f"hls4ml is installed but {path}/ap_fixed.h is missing; is hls4ml 1.3.0 installed?")
    return path


@lru_cache(maxsize=None)
def _compiler_id(compiler: str) -> str:
    exe = shutil.which(compiler)
    if exe is None:
        raise RuntimeError(f"C++ compiler {compiler!r} not found on PATH (apt-get install g++)")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout
    return f"{os.path.realpath(exe)}\n{out.splitlines()[0] if out else ''}"


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _parse_depfile(text: str) -> list[str]:
    """The prerequisites of a make-style dependency file as written by ``g++ -MMD``."""
    text = text.replace("\\\n", " ")
    _, _, deps = text.partition(": ")
    out, cur, i = [], [], 0
    while i < len(deps):
        ch = deps[i]
        if ch == "\\" and i + 1 < len(deps) and deps[i + 1] in " #":
            cur.append(deps[i + 1])
            i += 2
            continue
        if ch == "$" and deps[i + 1 : i + 2] == "$":
            cur.append("$")
            i += 2
            continue
        if ch.isspace():
            if cur:
                out.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
        i += 1
    if cur:
        out.append("".join(cur))
    return out


def compile_shared(
    sources: Path | str | Sequence[Path | str],
    build_dir: Path | str,
    *,
    include_dirs: Iterable[Path | str] = (),
    ap_types: bool = True,
    extra_flags: Iterable[str] = (),
    defines: dict[str, str | int | None] | None = None,
    opt: str = DEFAULT_OPT,
    name: str = "lib",
    compiler: str = "g++",
    timeout: float | None = 600,
) -> Path:
    """Compile ``sources`` into ``<build_dir>/<name>-<hash>-<deps hash>.so`` (or reuse it) and return its path.

    ``include_dirs`` go on the command line as ``-I`` in order, followed by the ap_types directory when ``ap_types``
    is true. ``defines`` become ``-DKEY=VALUE`` (``-DKEY`` for ``None``). ``extra_flags`` are appended last (e.g.
    ``["-DNDEBUG"]``, ``["-g"]``). ``opt`` is the optimisation flag.
    """
    srcs = [Path(sources)] if isinstance(sources, (str, Path)) else [Path(s) for s in sources]
    if not srcs:
        raise ValueError("compile_shared needs at least one source file")
    for src in srcs:
        if not src.is_file():
            raise FileNotFoundError(f"C++ source not found: {src}")
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)

    incs = [Path(d).resolve() for d in include_dirs]
    if ap_types:
        incs.append(ap_types_include_dir().resolve())
    flags = [*BASE_FLAGS, opt, *QUIET_FLAGS]
    flags += [f"-I{d}" for d in incs]
    for key, value in (defines or {}).items():
        flags.append(f"-D{key}" if value is None else f"-D{key}={value}")
    flags += list(extra_flags)

    key = hashlib.sha256()
    key.update(_compiler_id(compiler).encode())
    key.update(json.dumps(flags).encode())
    for src in srcs:
        key.update(str(src.resolve()).encode() + b"\0")
        key.update(src.read_bytes() + b"\0")
    digest = key.hexdigest()[:16]
    manifest = build_dir / f"{name}-{digest}.json"

    cached = _cached_library(manifest)
    if cached is not None:
        return cached

    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}-{digest}-", suffix=".so", dir=build_dir)
    os.close(fd)
    tmp = Path(tmp_name)
    depfile = tmp.with_suffix(".d")
    tmp_manifest = tmp.with_suffix(".json")
    cmd = [compiler, *flags, "-MMD", "-MF", str(depfile), *[str(s) for s in srcs], "-o", str(tmp)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).splitlines()[-40:])
            raise CompileError(f"{shlex.join(cmd)}\nexit {proc.returncode}:\n{tail}")
        deps = _parse_depfile(depfile.read_text()) if depfile.is_file() else [str(s) for s in srcs]
        hashes = {str(Path(d).resolve()): _sha256_file(Path(d)) for d in deps}
        # The name also hashes the dependencies: a rebuild after a header change gets a new path, because the dynamic
        # loader hands back an already loaded library for a path it has seen, whatever the file now holds.
        dep_digest = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()[:8]
        out = build_dir / f"{name}-{digest}-{dep_digest}.so"
        shown = [str(out) if a == str(tmp) else a for a in cmd if a not in ("-MMD", "-MF", str(depfile))]
        tmp_manifest.write_text(json.dumps({"library": out.name, "command": shown, "deps": hashes}, indent=1))
        previous = _manifest_library(manifest)
        os.replace(tmp, out)
        os.replace(tmp_manifest, manifest)
        if previous is not None and previous != out:
            previous.unlink(missing_ok=True)  # a process that has it loaded keeps its mapping
    finally:
        for leftover in (tmp, depfile, tmp_manifest):
            leftover.unlink(missing_ok=True)
    return out


def _manifest_library(manifest: Path) -> Path | None:
    try:
        return manifest.parent / json.loads(manifest.read_text())["library"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _cached_library(manifest: Path) -> Path | None:
    """The library a manifest records, if it exists and every file it was built from is unchanged."""
    try:
        data = json.loads(manifest.read_text())
        lib = manifest.parent / data["library"]
        if lib.is_file() and all(Path(p).is_file() and _sha256_file(Path(p)) == h for p, h in data["deps"].items()):
            return lib
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def load_library(path: Path | str) -> ctypes.CDLL:
    """``ctypes.CDLL`` on a library built by :func:`compile_shared`."""
    return ctypes.CDLL(str(Path(path).resolve()))
