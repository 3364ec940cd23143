"""Shared test set-up.

A shell that starts a job in the background (``cmd &``, nohup, some CI
runners) makes that job ignore SIGINT. The Ctrl-C tests need Python's usual
handler, so the test process gets it back here; child processes started by the
tests then inherit the default disposition as well.
"""

import signal

import pytest


@pytest.fixture(autouse=True, scope="session")
def _python_sigint_handler():
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
