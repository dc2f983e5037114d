"""Stop signals: SIGTERM and SIGINT ask a training run to stop between two updates with a
checkpoint, so that a preempted batch job continues exactly when launched again.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from typing import Any

from trmrl_jax.distributed import process_values


class StopSignals:
    """While active, SIGTERM and SIGINT (what a cluster sends before it kills a job, and Ctrl-C)
    ask the loop to stop between updates; a second one ends the process at once with status
    128 + its number (143 for SIGTERM, 130 for SIGINT), leaving the last checkpoint as it is.
    Signals within ``BURST_S`` of the first count as that one: ``timeout`` and some schedulers
    signal the process and then its whole process group, which delivers the same SIGTERM twice
    within microseconds.

    A Python signal handler runs only when the main thread next runs Python code, which can be
    minutes away inside a compiled step; so the handlers do nothing themselves, and a thread
    reads the signal numbers that Python's C-level handler writes to the wakeup socket the
    moment a signal arrives. Handlers can only be set from the main thread; elsewhere signals
    keep their own.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)
    BURST_S = 1.0

    def __init__(self) -> None:
        self.received = 0  # The first signal's number, 0 while none came.
        self._received_at = 0.0  # time.monotonic() of the first signal.
        self._previous: dict[int, Any] = {}
        self._previous_fd = -1
        self._sockets: tuple[socket.socket, socket.socket] | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is not threading.main_thread():
            return self
        reader, writer = self._sockets = socket.socketpair()
        writer.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        self._previous = {s: signal.signal(s, lambda signum, frame: None) for s in self.SIGNALS}
        self._thread = threading.Thread(target=self._watch, args=(reader,), daemon=True,
                                        name="trmrl_jax-stop-signals")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._sockets is None:
            return
        for s, handler in self._previous.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)
        signal.set_wakeup_fd(self._previous_fd)
        reader, writer = self._sockets
        writer.close()  # The watching thread reads the end of the stream and returns.
        if self._thread is not None:
            self._thread.join()
        reader.close()

    def _watch(self, reader: socket.socket) -> None:
        while data := reader.recv(64):
            for signum in data:
                if signum not in self.SIGNALS:
                    continue
                name = signal.Signals(signum).name
                if self.received:
                    if time.monotonic() - self._received_at < self.BURST_S:
                        continue
                    os.write(2, f"\n{name} received again: stopping at once\n".encode())
                    os._exit(128 + signum)
                self.received, self._received_at = signum, time.monotonic()
                os.write(2, f"\n{name} received: stopping after this update with a checkpoint; "
                            "a second signal stops at once\n".encode())

    def agreed(self) -> str | None:
        """The name of a signal some process received (the lowest such process's), else None.
        Every process calls it between the same two updates, so all stop after the same one."""
        received = process_values(self.received)
        first = next((r for r in received if r), 0)
        if not first:
            return None
        name = signal.Signals(first).name
        return name if len(received) == 1 else f"{name} (process {received.index(first)})"
