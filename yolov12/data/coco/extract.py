"""Extracting the archives through a temporary directory, so a killed extraction never looks complete."""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from .download import download
from .spec import ARCHIVES, CocoError, Progress, archive_url, say
from .validate import archive_problems


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_extractions(root: Path, archive: str, progress: bool) -> None:
    """Temp dirs of extractions whose process died (named .<archive>.<pid>.*.extract.tmp) would hold gigabytes."""
    for tmp in root.glob(f".{archive}.*.extract.tmp"):
        pid = tmp.name[len(archive) + 2:].split(".", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            say(f"removing interrupted extraction {tmp}", progress)
            shutil.rmtree(tmp, ignore_errors=True)


def _merge_into(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst``: whole when ``dst`` is absent (one rename), else entry by entry (keeps user extras)."""
    if not dst.exists() and not dst.is_symlink():
        os.replace(src, dst)
    elif src.is_dir() and dst.is_dir():
        for child in src.iterdir():
            _merge_into(child, dst / child.name)
    elif src.is_file() and dst.is_file():
        os.replace(src, dst)
    else:
        kind = "directory" if src.is_dir() else "file"
        raise CocoError(f"cannot extract {src.name} here: it exists and is not a {kind}; move it away and run again",
                        file=dst, key="--root")


def extract(archive: Path, root: Path, progress: bool) -> None:
    """Unzip into a temp dir beside the targets, then move into place, so a killed extraction never looks complete."""
    _remove_stale_extractions(root, archive.name, progress)
    tmp = Path(tempfile.mkdtemp(prefix=f".{archive.name}.{os.getpid()}.", suffix=".extract.tmp", dir=root))
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            report = Progress(f"extract {archive.name}", len(members), progress)
            for i, member in enumerate(members, 1):
                zf.extract(member, tmp)  # zipfile drops absolute and '..' parts of member names
                report.update(i)
        for entry in sorted(tmp.iterdir()):
            _merge_into(entry, root / entry.name)
    except zipfile.BadZipFile as e:
        raise CocoError(f"not a valid zip archive ({e}); delete it and run again to download it", file=archive,
                        key="--download") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)




def fetch_missing(root: Path, base_url: str, expected: dict[str, Any], progress: bool) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for archive in ARCHIVES:
        if not archive_problems(root, archive, expected):
            say(f"{archive.name}: contents already in {root}, skipped", progress)
            continue
        path = download(archive_url(base_url, archive), root / archive.name, size=expected.get(f"{archive.name}/size"),
                        md5=expected.get(f"{archive.name}/md5"), progress=progress)
        extract(path, root, progress)
