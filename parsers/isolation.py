"""Run a function on untrusted input in a reused worker process with memory and time limits.

One long-lived worker per ``IsolatedRunner``, started from the "forkserver" context (never a
plain fork of a possibly threaded parent), reused across calls; arguments and results travel
over a ``multiprocessing`` Pipe with pickle. Inside the worker:

- the ``imports`` are imported before the memory cap is set and before the first call (they
  are also asked of the fork server, so a worker restarted after a kill starts warm);
- memory is capped with ``RLIMIT_DATA`` (heap and private anonymous mappings: what a
  parser bomb grows). Measured on this machine, a worker with lxml, python-calamine,
  openpyxl and python-docx imported runs normally under 300 MB and a 2 GB allocation fails
  at once; ``RLIMIT_AS`` stopped the bombs as well but also counts shared libraries, thread
  stacks and malloc's per-thread arena reservations (64 MB each), so it is kept only as a
  loose backstop (cap + 1 GiB) for kernels that do not count mmap in ``RLIMIT_DATA``;
- a ``MemoryError`` is reported (``WorkerOutOfMemory``) and the worker is replaced.

In the parent, a call that outlives its timeout gets the worker SIGKILLed by PID
(``WorkerTimeout``); a worker that dies during a call, by a signal (e.g. SIGABRT from a Rust
panic in python-calamine) or by exiting, gives ``WorkerKilled``. Either way the next call
starts a new worker. Exceptions raised by ``fn`` come back and are re-raised in the parent
(with the worker's traceback text as ``__cause__``). A worker that cannot even start is the
machinery's fault, not the file's: ``core.errors.ReaderFault``.

Measured on the 2-core machine: a round trip with a small payload costs 40-80 µs (median of
2,000 calls); 200 KB in and 400 KB out, 0.4-0.6 ms; replacing a killed worker, about 10 ms,
because the fork server has already imported ``imports``, this module and ``fn``'s module.
The fork server is shared by the process: only the first runner's preload list takes effect.
As with any non-fork start method, a script that builds a runner needs the
``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import pickle
import resource
import signal
import threading
import traceback
from collections.abc import Callable, Iterable
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, Generic, Literal, TypeVar

from core.errors import ReaderFault
from core.model import Rejection

T = TypeVar("T")
R = TypeVar("R")

#: How long a new worker may take to import its modules and report ready.
STARTUP_TIMEOUT_S = 60.0
_CONTEXT = "forkserver"


class WorkerFailure(Exception):
    """The worker could not finish reading a file; ``reason`` is for a practitioner."""

    rule: Literal["DOC-UNREADABLE", "DOC-UNSAFE"] = "DOC-UNSAFE"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @property
    def rejection(self) -> Rejection:
        return Rejection(rule=self.rule, reason=self.reason)


class WorkerKilled(WorkerFailure):
    """The worker died during the call (a signal such as SIGABRT or SIGKILL, or an exit)."""

    def __init__(self, reason: str, exitcode: int | None = None) -> None:
        super().__init__(reason)
        self.exitcode = exitcode


class WorkerTimeout(WorkerFailure):
    """The call took longer than allowed; the worker was killed."""


class WorkerOutOfMemory(WorkerFailure):
    """The call needed more memory than the worker is allowed; the worker was replaced."""


KILLED = "the file could not be read safely: reading it stopped the reader, so it was not opened"
TIMED_OUT = "the file took far too long to read, so it was not opened"
OUT_OF_MEMORY = "the file needed far more memory to read than a Word or Excel form, so it was not opened"


class _RemoteTraceback(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


# --- the worker side ----------------------------------------------------------------------------


def _limit_memory(memory_mb: int) -> None:
    cap = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
    backstop = cap + 1024 * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard > backstop:
        resource.setrlimit(resource.RLIMIT_AS, (backstop, backstop))


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, otherwise a RuntimeError naming its type."""
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes, a round trip
    except Exception:
        return RuntimeError(f"{type(exc).__name__} raised in the worker (it could not be sent back)")
    return exc


def _worker_main(conn: Connection, fn: Callable[[Any], Any], imports: tuple[str, ...], memory_mb: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when this process ends
    for name in imports:
        importlib.import_module(name)
    _limit_memory(memory_mb)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            arg = conn.recv()
        except (EOFError, OSError):
            return  # the parent has gone
        if arg is None:
            return
        try:
            reply: tuple[Any, ...] = ("ok", fn(arg))
        except MemoryError:
            reply = ("memory",)
        except Exception as exc:
            reply = ("error", _portable(exc), traceback.format_exc())
        try:
            conn.send(reply)
        except MemoryError:
            conn.send(("memory",))
        except Exception as exc:  # the result could not be pickled
            conn.send(("error", RuntimeError(f"the result could not be sent back ({type(exc).__name__})"), ""))
        if reply[0] == "memory":
            return  # a fresh worker for the next call: this heap may be fragmented


# --- the parent side ----------------------------------------------------------------------------


class IsolatedRunner(Generic[T, R]):
    """Calls ``fn(arg)`` in a worker process; see the module docstring.

    ``fn`` must be a top-level (picklable) function; so must its argument and result.
    The worker starts at construction, so its imports are done before the first call.
    Calls are serialised: one worker runs one call at a time.
    """

    def __init__(
        self,
        fn: Callable[[T], R],
        *,
        memory_mb: int,
        timeout_s: float,
        imports: Iterable[str] = (),
    ) -> None:
        self._fn = fn
        self._memory_mb = memory_mb
        self._timeout_s = timeout_s
        self._imports = tuple(imports)
        self._context = multiprocessing.get_context(_CONTEXT)
        # Effective only if the fork server is not running yet; harmless otherwise.
        preload = [*self._imports, __name__, getattr(fn, "__module__", None) or "__main__"]
        self._context.set_forkserver_preload([name for name in preload if name != "__main__"])
        self._lock = threading.Lock()
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._ready = False
        self._closed = False
        with self._lock:
            self._start()

    @property
    def pid(self) -> int | None:
        """The current worker's process id (None when none is running)."""
        return None if self._process is None else self._process.pid

    def run(self, arg: T, *, timeout_s: float | None = None) -> R:
        """``fn(arg)`` in the worker. Raises WorkerTimeout, WorkerKilled or WorkerOutOfMemory
        (all WorkerFailure), or whatever ``fn`` raised."""
        timeout = self._timeout_s if timeout_s is None else timeout_s
        with self._lock:
            if self._closed:
                raise ReaderFault("the isolated reader has been closed")
            conn = self._ready_connection()
            try:
                conn.send(arg)
            except (BrokenPipeError, ConnectionResetError, EOFError) as exc:
                raise self._died() from exc
            if not conn.poll(timeout):
                self._discard()
                raise WorkerTimeout(TIMED_OUT)
            try:
                reply = conn.recv()
            except (EOFError, OSError) as exc:
                raise self._died() from exc
            except Exception as exc:  # a result or exception that would not unpickle here
                raise ReaderFault("the isolated reader sent back something unreadable") from exc
        kind = reply[0]
        if kind == "ok":
            result: R = reply[1]
            return result
        if kind == "memory":
            with self._lock:
                self._discard()
            raise WorkerOutOfMemory(OUT_OF_MEMORY)
        error: BaseException = reply[1]
        if reply[2]:
            error.__cause__ = _RemoteTraceback(reply[2])
        raise error

    def close(self) -> None:
        """Ask the worker to finish, and kill it if it does not within a second."""
        with self._lock:
            self._closed = True
            if self._conn is not None and self._process is not None and self._process.is_alive():
                with contextlib.suppress(OSError, ValueError):
                    self._conn.send(None)
                self._process.join(1.0)
            self._discard()

    def __enter__(self) -> IsolatedRunner[T, R]:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- internals (called with the lock held) --

    def _start(self) -> None:
        parent_conn, child_conn = self._context.Pipe(duplex=True)
        process = self._context.Process(  # type: ignore[attr-defined]
            target=_worker_main,
            args=(child_conn, self._fn, self._imports, self._memory_mb),
            name="isolated-reader",
            daemon=True,
        )
        process.start()
        child_conn.close()
        self._process, self._conn, self._ready = process, parent_conn, False

    def _ready_connection(self) -> Connection:
        if self._process is None or self._conn is None or not self._process.is_alive():
            self._discard()
            self._start()
        assert self._conn is not None
        if not self._ready:
            try:
                if not self._conn.poll(STARTUP_TIMEOUT_S):
                    raise ReaderFault("the isolated reader did not start in time")
                self._conn.recv()
            except (EOFError, OSError) as exc:
                self._discard()
                raise ReaderFault("the isolated reader could not start") from exc
            except ReaderFault:
                self._discard()
                raise
            self._ready = True
        return self._conn

    def _died(self) -> WorkerKilled:
        process = self._process
        exitcode = None
        if process is not None:
            process.join(5.0)
            exitcode = process.exitcode
        self._discard()
        return WorkerKilled(KILLED, exitcode)

    def _discard(self) -> None:
        """Kill the worker (SIGKILL by PID) if it is running, and forget it."""
        process, conn = self._process, self._conn
        self._process, self._conn, self._ready = None, None, False
        if process is not None:
            if process.exitcode is None and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGKILL)
            process.join(5.0)
            with contextlib.suppress(ValueError):
                process.close()
        if conn is not None:
            conn.close()
