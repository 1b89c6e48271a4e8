"""`tinyee boards`: the boards tinyee builds for, and how each one runs."""

from __future__ import annotations

from tinyee.commands.console import json_output, result, write_json


def run(json_out: str | None = None) -> list[dict]:
    from rich.table import Table

    from tinyee.boards import list_boards, load_board

    json_output(json_out)
    rows = []
    for name in list_boards():
        b = load_board(name)
        rows.append({"board": b.name, "cpu": b.spec["cpu"], "clock_hz": int(b.spec["clock_hz"]),
                     "clock_setup": b.spec.get("clock_setup"), "flash_bytes": b.flash_bytes, "ram_bytes": b.ram_bytes, "emulated": b.emulated,
                     "run": b.spec["run"].get("tool"), "features": list(b.spec.get("features", [])),
                     "description": b.spec.get("description", "")})
    table = Table(title="tinyee boards (boards/*.json; --board also takes a board file of your own)")
    for c in ("board", "CPU", "clock", "flash", "RAM", "runs in", "features"):
        table.add_column(c, justify="left" if c in ("board", "CPU", "runs in", "features") else "right")
    for r in rows:
        table.add_row(r["board"], r["cpu"], _clock(r["clock_hz"], r["clock_setup"]), f"{r['flash_bytes'] // 1024:,} KiB",
                      f"{r['ram_bytes'] // 1024:,} KiB", "QEMU (emulated)" if r["emulated"] else f"board via {r['run']}",
                      ", ".join(r["features"]))
    result(table)
    write_json({"boards": rows}, json_out)
    return rows


def _clock(target: int, setup: dict | None) -> str:
    if setup is None:
        return f"{target / 1e6:g} MHz"
    if setup["family"] == "nrf52":
        return f"{target / 1e6:g} MHz (HFXO)"
    return f"{target / 1e6:g} MHz (PLL; {setup['reset_hz'] / 1e6:g} at reset)"
