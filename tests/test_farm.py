"""`tinyee bench --farm`: several boards at once, one merged summary, resumable per board."""

import json
import subprocess
import sys

import pytest

from tinyee.bench.farm import read_farm
from tinyee.errors import TinyeeError

FARM = """
[[board]]
board = "mps2-an386"

[[board]]
board = "mps3-an547"
name = "m55"
"""


def tinyee(*args):
    return subprocess.run([sys.executable, "-m", "tinyee", *map(str, args)], capture_output=True, text=True, timeout=900)


def test_two_emulated_boards_bench_in_parallel_and_resume_per_board(shipped_export, tmp_path):
    (tmp_path / "farm.toml").write_text(FARM)
    args = ("bench", "--farm", tmp_path / "farm.toml", "--export", shipped_export[0], "--samples", 6,
            "--force-samples", 2, "--out", tmp_path / "out", "--json", tmp_path / "farm.json")
    r = tinyee(*args)
    assert r.returncode == 0, r.stderr[-3000:]
    merged = json.loads((tmp_path / "out/farm-summary.json").read_text())
    assert merged == json.loads((tmp_path / "farm.json").read_text())
    sections = merged["boards"]
    assert set(sections) == {"mps2-an386", "m55"}
    for name, board in (("mps2-an386", "mps2-an386"), ("m55", "mps3-an547")):
        s = sections[name]
        assert s["status"] == "ok" and s["summary"]["board"] == board and s["summary"]["completed"] == 6
        assert s["summary"]["host_agreement"] == 1.0 and (tmp_path / "out" / name / "results.jsonl").is_file()
    a, b = sections["mps2-an386"], sections["m55"]
    assert a["started"] < b["started"] + b["seconds"] and b["started"] < a["started"] + a["seconds"]  # overlapped
    (tmp_path / "out/m55/summary.json").unlink()  # as if m55 had been interrupted
    r = tinyee(*args, "--resume")
    assert r.returncode == 0, r.stderr[-3000:]
    sections = json.loads((tmp_path / "out/farm-summary.json").read_text())["boards"]
    assert sections["mps2-an386"]["resumed"] == "already done" and "resumed" not in sections["m55"]
    assert sections["m55"]["summary"]["completed"] == 6


@pytest.mark.parametrize("text, message", [
    ("[[board]]\nport = '/dev/ttyACM0'\n", "needs 'board'"),
    ("[[board]]\nboard = 'nucleo-f746zg'\n", "is a real board: give its port"),
    ("[[board]]\nboard = 'mps2-an386'\n[[board]]\nboard = 'mps2-an386'\n", "must be unique"),
    ("[[board]]\nboard = 'mps2-an386'\nbaud = 9600\n", "unknown key 'baud'"),
    ("[[board]]\nboard = 'no-such-board'\n", "unknown board"),
    ("board = [\n", "not valid TOML"),
    ("title = 'lab'\n", "lists no boards"),
])
def test_bad_farm_files_are_one_clear_line(tmp_path, text, message):
    (tmp_path / "farm.toml").write_text(text)
    with pytest.raises(TinyeeError, match=message):
        read_farm(tmp_path / "farm.toml")


def test_farm_with_a_serial_server_and_conflicting_options(tmp_path):
    (tmp_path / "farm.json").write_text(json.dumps({"board": [
        {"board": "nucleo-f746zg", "port": "rfc2217://lab-server:4001", "name": "f7"}, {"board": "mps2-an386"}]}))
    f7, an386 = read_farm(tmp_path / "farm.json")
    assert (f7.port, f7.emulated, an386.emulated) == ("rfc2217://lab-server:4001", False, True)
    r = tinyee("bench", "--farm", tmp_path / "farm.json", "--port", "socket://x:1")
    assert r.returncode == 2 and "--farm takes boards, ports and images from the farm file, not --port" in r.stderr
