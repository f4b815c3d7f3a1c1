"""A normaliser gives way on the CPU: its niceness rises to the setting, never falls."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from services.settings import REPO_ROOT, Settings

posix = pytest.mark.skipif(not hasattr(os, "nice"), reason="POSIX niceness")

# In a child process: niceness is process-wide, and this one cannot be lowered back unprivileged.
_PROBE = (
    "import os, sys; from services.cpu_priority import yield_cpu; "
    "print(yield_cpu(int(sys.argv[1])), os.nice(0))"
)


def _niceness_after(wanted: int, started_at: int) -> tuple[int, int]:
    """(returned, actual) niceness of a process started at ``started_at`` after yield_cpu."""
    done = subprocess.run(
        ["nice", "-n", str(started_at - os.nice(0)), sys.executable, "-c", _PROBE, str(wanted)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    )
    returned, actual = done.stdout.splitlines()[-1].split()  # after its log line
    return int(returned), int(actual)


#: Niceness stops at 19, whatever the runner's own is.
_MOST = 19


@posix
def test_niceness_rises_to_the_setting() -> None:
    base = os.nice(0)
    wanted = min(base + 7, _MOST)
    assert _niceness_after(wanted, started_at=base) == (wanted, wanted)


@posix
def test_a_process_started_lower_keeps_its_own_niceness() -> None:
    base = os.nice(0)
    started = min(base + 12, _MOST)
    assert _niceness_after(min(base + 3, started), started_at=started) == (started, started)


@posix
def test_zero_leaves_the_process_as_started() -> None:
    base = os.nice(0)
    assert _niceness_after(0, started_at=base) == (base, base)


def test_normalisers_give_way_by_default_and_the_setting_turns_it_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ASBX_NORMALISER_NICENESS", raising=False)
    assert Settings().normaliser_niceness == 10
    monkeypatch.setenv("ASBX_NORMALISER_NICENESS", "0")
    assert Settings().normaliser_niceness == 0
    monkeypatch.setenv("ASBX_NORMALISER_NICENESS", "20")
    with pytest.raises(ValueError, match="ASBX_NORMALISER_NICENESS"):
        Settings()
