"""``aman chat``: a terminal conversation through the full pipeline (subprocess, stdin)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_chat_with_the_echo_bot_and_press_a_shop_button(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "aman.cli", "chat", "--bot", "echo", "--as", "+6281234567890"],
        input="halo dari terminal\napa kabar\nquit\n", capture_output=True, text=True,
        timeout=120, env=env, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "bot> halo dari terminal" in proc.stdout
    assert "bot> apa kabar" in proc.stdout
    assert "6281234567890" not in proc.stdout + proc.stderr  # the number is masked

    proc = subprocess.run(
        [sys.executable, "-m", "aman.cli", "chat", "--bot", "shop"],
        input="halo\n1\nquit\n", capture_output=True, text=True, timeout=120, env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert any(line.strip().startswith("[1]") for line in lines), proc.stdout
    # Pressing [1] sends the button reply; the bot answers it.
    assert sum(line.startswith("bot>") for line in lines) >= 2, proc.stdout
