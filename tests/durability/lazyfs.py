"""A disk that loses what was never synced: a FUSE filesystem for power-cut tests, in the spirit
of LazyFS (which cannot be fetched here).

It passes through to a backing directory, but nothing reaches that directory until it is made
durable the way a careful reading of POSIX says a real disk makes it durable:

- a file's data and size wait in a page cache in memory until ``fsync``/``fdatasync`` on that
  file (readers see them at once: reads are served from the cache);
- a name created, removed or renamed is undone by the cut until ``fsync`` on its directory
  (a file fsync'd but never named durably is gone, as on a strict POSIX filesystem);
- ``lose unsynced writes`` throws all of that away, as a power cut does, and the filesystem then
  refuses every further operation (EIO) until it is unmounted. The backing directory is then
  what the disk would hold after the cut. A plain unmount without a cut syncs everything, as an
  orderly shutdown does.

POSIX advisory locks (SQLite's) are left to the kernel, which keeps them for the mount as for
any local filesystem; shared mmap (SQLite's ``-shm``) goes through the kernel's page cache and
reaches here as ordinary reads and writes. Not implemented (ENOSYS): links, symlinks, device
nodes, extended attributes. Owner, mode and times are set on the backing file at once.

Run as ``python -m tests.durability.lazyfs BACKING MOUNTPOINT``: it prints ``mounted`` when the
mount is up; the line ``lose-unsynced-writes`` on its standard input makes the cut and answers
``lost``. ``LazyDisk`` does all of that for a test."""

from __future__ import annotations

import contextlib
import errno
import functools
import itertools
import os
import select
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

PAGE = 4096
LIMBO = ".lazyfs-limbo"  # in the backing root: removed names wait here until their directory syncs
MOUNT_SECONDS = 30
PROJECT = Path(__file__).resolve().parents[2]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(eq=False)
class Node:
    """One backing file (an inode, whatever its names) and what was written to it since its
    last sync. Backing bytes at or past ``cut`` are stale: the file was cut shorter since."""

    ino: int
    fd: int
    path: str  # where the backing file is now: its name, or a place in limbo
    size: int  # the size readers see
    synced_size: int  # the backing file's size
    cut: int
    pages: dict[int, bytearray] = field(default_factory=dict)
    opened: int = 0
    deleted: bool = False  # its removal is durable: only open handles still reach it

    @property
    def dirty(self) -> bool:
        return bool(self.pages) or self.size != self.synced_size or self.cut < self.synced_size


@dataclass(eq=False)
class Change:
    """A name created, removed or renamed: undone by a cut until every directory it touched
    was synced."""

    dirs: set[str]
    undo: Callable[[], None]
    settle: Callable[[], None] = lambda: None  # once durable (e.g. delete what limbo kept)


@dataclass(eq=False)
class Handle:
    node: Node
    append: bool


def _operation(method: F) -> F:
    @functools.wraps(method)
    def run(self: LazyFS, *args: Any) -> Any:
        with self.mutex:
            if self.lost:
                raise OSError(errno.EIO, "the disk lost power")
            return method(self, *args)

    return run  # type: ignore[return-value]


def _parent(path: str) -> str:
    return os.path.dirname(path.rstrip("/")) or "/"


class LazyFS:
    """The filesystem's operations, as mfusepy calls them (paths are relative to the mount)."""

    use_ns = True  # times in nanoseconds

    def __init__(self, backing: str) -> None:
        self.root = os.path.realpath(backing)
        self.limbo = os.path.join(self.root, LIMBO)
        os.makedirs(self.limbo, exist_ok=True)
        self.mutex = threading.RLock()
        self.lost = False
        self.nodes: dict[int, Node] = {}
        self.handles: dict[int, Handle] = {}
        self.folders: dict[int, str] = {}  # open directory handles: their paths
        self.journal: list[Change] = []
        self._numbers = itertools.count(1)

    # -- helpers --------------------------------------------------------------------------------

    def _real(self, path: str) -> str:
        if path == f"/{LIMBO}" or path.startswith(f"/{LIMBO}/"):
            raise OSError(errno.ENOENT, path)
        return os.path.join(self.root, path.lstrip("/"))

    def _limbo_place(self) -> str:
        return os.path.join(self.limbo, str(next(self._numbers)))

    def _node(self, path: str) -> Node:
        real = self._real(path)
        st = os.lstat(real)
        node = self.nodes.get(st.st_ino)
        if node is None:
            if not stat.S_ISREG(st.st_mode):
                raise OSError(errno.EISDIR if stat.S_ISDIR(st.st_mode) else errno.EINVAL, path)
            fd = os.open(real, os.O_RDWR | os.O_NOFOLLOW)
            node = Node(st.st_ino, fd, real, st.st_size, st.st_size, st.st_size)
            self.nodes[st.st_ino] = node
        return node

    def _forget_if_idle(self, node: Node) -> None:
        if node.opened == 0 and (node.deleted or not node.dirty):
            os.close(node.fd)
            self.nodes.pop(node.ino, None)

    def _open(self, node: Node, flags: int) -> int:
        node.opened += 1
        number = next(self._numbers)
        self.handles[number] = Handle(node, append=bool(flags & os.O_APPEND))
        return number

    def _moved(self, old: str, new: str) -> None:
        for node in self.nodes.values():
            if node.path == old:
                node.path = new

    def _read(self, node: Node, offset: int, length: int) -> bytes:
        end = min(offset + length, node.size)
        if end <= offset:
            return b""
        data = bytearray(os.pread(node.fd, end - offset, offset))
        data.extend(bytes(end - offset - len(data)))
        if node.cut < end:
            stale = max(node.cut - offset, 0)
            data[stale:] = bytes(len(data) - stale)
        for index in range(offset // PAGE, (end - 1) // PAGE + 1):
            page = node.pages.get(index)
            if page is not None:
                start = index * PAGE
                low, high = max(start, offset), min(start + PAGE, end)
                data[low - offset : high - offset] = page[low - start : high - start]
        return bytes(data)

    def _write(self, node: Node, data: bytes, offset: int) -> None:
        position = 0
        while position < len(data):
            index, within = divmod(offset + position, PAGE)
            page = node.pages.get(index)
            if page is None:
                page = bytearray(self._read(node, index * PAGE, PAGE).ljust(PAGE, b"\0"))
                node.pages[index] = page
            chunk = data[position : position + PAGE - within]
            page[within : within + len(chunk)] = chunk
            position += len(chunk)
        node.size = max(node.size, offset + len(data))

    def _truncate(self, node: Node, length: int) -> None:
        if length < node.size:
            node.cut = min(node.cut, length)
            for index in [i for i in node.pages if i * PAGE >= length]:
                del node.pages[index]
            last = node.pages.get(length // PAGE)
            if last is not None:
                within = length % PAGE
                last[within:] = bytes(PAGE - within)
        node.size = length

    def _sync(self, node: Node) -> None:
        if node.cut < node.synced_size:
            os.ftruncate(node.fd, node.cut)
        for index, page in sorted(node.pages.items()):
            os.pwrite(node.fd, page[: max(min(PAGE, node.size - index * PAGE), 0)], index * PAGE)
        os.ftruncate(node.fd, node.size)
        os.fsync(node.fd)
        node.pages.clear()
        node.synced_size = node.cut = node.size

    def _settle(self, directory: str | None) -> None:
        """Make durable every name change in ``directory`` (all of them when None)."""
        for change in list(self.journal):
            if directory is None:
                change.dirs.clear()
            else:
                change.dirs.discard(directory)
            if not change.dirs:
                self.journal.remove(change)
                change.settle()

    def _gone(self, place: str, remove: Callable[[str], None]) -> Callable[[], None]:
        def settle() -> None:
            remove(place)
            for node in list(self.nodes.values()):
                if node.path == place:
                    node.deleted = True
                    self._forget_if_idle(node)

        return settle

    # -- the cut ----------------------------------------------------------------------------------

    def lose_unsynced_writes(self) -> None:
        with self.mutex:
            self.lost = True
            for change in reversed(self.journal):
                with contextlib.suppress(OSError):
                    change.undo()
            self.journal.clear()
            for node in self.nodes.values():
                os.close(node.fd)
            self.nodes.clear()
            self.handles.clear()
            shutil.rmtree(self.limbo, ignore_errors=True)

    def destroy(self, path: str) -> None:
        """Unmounted: without a cut, an orderly shutdown syncs everything."""
        with self.mutex:
            if not self.lost:
                for node in list(self.nodes.values()):
                    if not node.deleted:
                        self._sync(node)
                    os.close(node.fd)
                self.nodes.clear()
                self._settle(None)
            shutil.rmtree(self.limbo, ignore_errors=True)

    # -- FUSE operations ------------------------------------------------------------------------

    def init(self, path: str) -> None:
        print("mounted", flush=True)

    @_operation
    def getattr(self, path: str | None, fh: int | None = None) -> dict[str, Any]:
        node: Node | None
        if fh is not None and fh in self.handles:
            node = self.handles[fh].node
            st = os.fstat(node.fd)
        else:
            if path is None:
                raise OSError(errno.EBADF, "no path and no handle")
            st = os.lstat(self._real(path))
            node = self.nodes.get(st.st_ino)
        attrs = {
            key: getattr(st, key)
            for key in ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_blocks")
        }
        for key in ("st_atime", "st_mtime", "st_ctime"):
            attrs[key] = getattr(st, f"{key}_ns")
        if node is not None and stat.S_ISREG(st.st_mode):
            attrs["st_size"] = node.size
            attrs["st_blocks"] = (node.size + 511) // 512
        return attrs

    @_operation
    def access(self, path: str, amode: int) -> int:
        if not os.access(self._real(path), amode):
            raise OSError(errno.EACCES, path)
        return 0

    @_operation
    def readdir(self, path: str, fh: int) -> list[str]:
        names = os.listdir(self._real(path))
        if path == "/":
            names = [name for name in names if name != LIMBO]
        return [".", "..", *names]

    @_operation
    def statfs(self, path: str) -> dict[str, int]:
        st = os.statvfs(self.root)
        keys = ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail", "f_files", "f_ffree")
        return {key: getattr(st, key) for key in (*keys, "f_favail", "f_namemax")}

    @_operation
    def open(self, path: str, flags: int) -> int:
        node = self._node(path)
        if flags & os.O_TRUNC:
            self._truncate(node, 0)
        return self._open(node, flags)

    @_operation
    def create(self, path: str, mode: int, flags: int) -> int:
        real = self._real(path)
        fd = os.open(real, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        ino = os.fstat(fd).st_ino
        node = Node(ino, fd, real, 0, 0, 0)
        self.nodes[ino] = node
        self.journal.append(Change({_parent(path)}, undo=functools.partial(os.unlink, real)))
        return self._open(node, flags)

    @_operation
    def read(self, path: str | None, size: int, offset: int, fh: int) -> bytes:
        return self._read(self.handles[fh].node, offset, size)

    @_operation
    def write(self, path: str | None, data: bytes, offset: int, fh: int) -> int:
        handle = self.handles[fh]
        self._write(handle.node, data, handle.node.size if handle.append else offset)
        return len(data)

    @_operation
    def truncate(self, path: str | None, length: int, fh: int | None = None) -> int:
        if fh is not None and fh in self.handles:
            node = self.handles[fh].node
        elif path is not None:
            node = self._node(path)
        else:
            raise OSError(errno.EBADF, "no path and no handle")
        self._truncate(node, length)
        self._forget_if_idle(node)
        return 0

    @_operation
    def flush(self, path: str | None, fh: int) -> int:
        return 0  # close() is not a sync

    @_operation
    def fsync(self, path: str | None, datasync: int, fh: int) -> int:
        self._sync(self.handles[fh].node)
        return 0

    @_operation
    def release(self, path: str | None, fh: int) -> int:
        handle = self.handles.pop(fh)
        handle.node.opened -= 1
        self._forget_if_idle(handle.node)
        return 0

    @_operation
    def opendir(self, path: str) -> int:
        if not stat.S_ISDIR(os.lstat(self._real(path)).st_mode):
            raise OSError(errno.ENOTDIR, path)
        number = next(self._numbers)
        self.folders[number] = path
        return number

    @_operation
    def releasedir(self, path: str | None, fh: int) -> int:
        self.folders.pop(fh, None)
        return 0

    @_operation
    def fsyncdir(self, path: str | None, datasync: int, fh: int) -> int:
        self._settle(self.folders[fh])
        return 0

    @_operation
    def mkdir(self, path: str, mode: int) -> int:
        real = self._real(path)
        os.mkdir(real, mode)
        self.journal.append(Change({_parent(path)}, undo=functools.partial(os.rmdir, real)))
        return 0

    @_operation
    def unlink(self, path: str) -> int:
        real, place = self._real(path), self._limbo_place()
        if stat.S_ISDIR(os.lstat(real).st_mode):
            raise OSError(errno.EISDIR, path)
        self._remove(path, real, place, os.unlink)
        return 0

    @_operation
    def rmdir(self, path: str) -> int:
        real, place = self._real(path), self._limbo_place()
        if not stat.S_ISDIR(os.lstat(real).st_mode):
            raise OSError(errno.ENOTDIR, path)
        if os.listdir(real):
            raise OSError(errno.ENOTEMPTY, path)
        self._remove(path, real, place, os.rmdir)
        return 0

    def _remove(self, path: str, real: str, place: str, remove: Callable[[str], None]) -> None:
        os.rename(real, place)
        self._moved(real, place)
        self.journal.append(
            Change(
                {_parent(path)},
                undo=functools.partial(os.rename, place, real),
                settle=self._gone(place, remove),
            )
        )

    @_operation
    def rename(self, old: str, new: str) -> int:
        source, target = self._real(old), self._real(new)
        moving = os.lstat(source)
        displaced: str | None = None
        with contextlib.suppress(FileNotFoundError):
            there = os.lstat(target)
            if stat.S_ISDIR(there.st_mode) != stat.S_ISDIR(moving.st_mode):
                raise OSError(errno.EISDIR if stat.S_ISDIR(there.st_mode) else errno.ENOTDIR, new)
            if stat.S_ISDIR(there.st_mode) and os.listdir(target):
                raise OSError(errno.ENOTEMPTY, new)
            displaced = self._limbo_place()
            os.rename(target, displaced)
            self._moved(target, displaced)
        os.rename(source, target)
        self._moved(source, target)

        def undo() -> None:
            os.rename(target, source)
            if displaced is not None:
                os.rename(displaced, target)

        remove = shutil.rmtree if stat.S_ISDIR(moving.st_mode) else os.unlink
        settle = self._gone(displaced, remove) if displaced is not None else (lambda: None)
        self.journal.append(Change({_parent(old), _parent(new)}, undo=undo, settle=settle))
        return 0

    @_operation
    def chmod(self, path: str | None, mode: int) -> int:
        if path is None:
            raise OSError(errno.EBADF, "no path")
        os.chmod(self._real(path), mode)
        return 0

    @_operation
    def chown(self, path: str | None, uid: int, gid: int) -> int:
        if path is None:
            raise OSError(errno.EBADF, "no path")
        os.chown(self._real(path), uid, gid, follow_symlinks=False)
        return 0

    @_operation
    def utimens(self, path: str | None, times: tuple[int, int] | None = None) -> int:
        if path is None:
            raise OSError(errno.EBADF, "no path")
        if times is None:
            os.utime(self._real(path), follow_symlinks=False)
        else:
            os.utime(self._real(path), ns=times, follow_symlinks=False)
        return 0


def _listen(fs: LazyFS) -> None:
    """The control line: one command on standard input, one answer on standard output."""
    for line in sys.stdin:
        if line.strip() == "lose-unsynced-writes":
            fs.lose_unsynced_writes()
            print("lost", flush=True)


def serve(backing: str, mountpoint: str) -> None:
    import logging

    import mfusepy

    # Errors reach the caller as errno; LAZYFS_DEBUG=1 logs each of them (to standard error).
    logging.basicConfig(level=logging.DEBUG if os.environ.get("LAZYFS_DEBUG") else logging.WARNING)

    fs = LazyFS(backing)
    threading.Thread(target=_listen, args=(fs,), daemon=True).start()
    # One thread: requests are served in order, and the kernel keeps the locks.
    mfusepy.FUSE(fs, mountpoint, foreground=True, nothreads=True, hard_remove=True, fsname="lazyfs")


# -- for tests ------------------------------------------------------------------------------------


class MountFailed(Exception):
    """FUSE is not usable here (no /dev/fuse, no libfuse3, no permission to mount)."""


class LazyDisk:
    """A lazy mount of ``backing`` on ``mountpoint``, run by another process that a test drives."""

    def __init__(self, backing: Path, mountpoint: Path, log: Path) -> None:
        self.backing, self.mountpoint, self.log = backing, mountpoint, log
        self.process: subprocess.Popen[str] | None = None

    def mount(self) -> None:
        if not Path("/dev/fuse").exists():
            raise MountFailed("there is no /dev/fuse on this machine")
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as errors:
            self.process = subprocess.Popen(  # noqa: S603 - our own module
                [sys.executable, "-m", "tests.durability.lazyfs", self.backing, self.mountpoint],
                cwd=PROJECT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
        if self._answer(MOUNT_SECONDS) != "mounted" or not os.path.ismount(self.mountpoint):
            if self.process.poll() is None:
                self.process.kill()
            self.unmount()
            raise MountFailed(f"lazyfs could not mount:\n{self.log.read_text(errors='replace')}")

    def _answer(self, seconds: float) -> str:
        assert self.process is not None
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], seconds)
        return self.process.stdout.readline().strip() if ready else ""

    def lose_unsynced_writes(self) -> None:
        """The power cut: everything not yet synced is gone, and the disk answers nothing more."""
        assert self.process is not None
        assert self.process.stdin is not None
        self.process.stdin.write("lose-unsynced-writes\n")
        self.process.stdin.flush()
        assert self._answer(30) == "lost", self.log.read_text(errors="replace")

    def mounted(self) -> bool:
        """Whether the mount is there (even one whose process died: ``ismount`` says no)."""
        target = os.path.realpath(self.mountpoint)
        with open("/proc/self/mounts", encoding="utf-8") as mounts:
            return any(line.split()[1] == target for line in mounts)

    def unmount(self) -> None:
        if self.process is None:
            return
        fusermount = shutil.which("fusermount3")
        command = [fusermount, "-u"] if fusermount else ["umount"]
        lazily = [fusermount, "-u", "-z"] if fusermount else ["umount", "-l"]
        try:
            if self.mounted():
                subprocess.run(  # noqa: S603 - fusermount3 or umount, fixed arguments
                    [*command, str(self.mountpoint)], timeout=30, check=True
                )
            self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=10)
            if self.mounted():  # still busy, or its process died: detach it all the same
                subprocess.run([*lazily, str(self.mountpoint)], timeout=30, check=False)  # noqa: S603
            for pipe in (self.process.stdin, self.process.stdout):
                if pipe is not None:
                    pipe.close()
            self.process = None


@contextlib.contextmanager
def lazy_disk(backing: Path, mountpoint: Path, log: Path) -> Iterator[LazyDisk]:
    disk = LazyDisk(backing, mountpoint, log)
    disk.mount()
    try:
        yield disk
    finally:
        disk.unmount()


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])
