"""Plots a person reads instead of the tables: bench.png (latency per exit, exit distribution, accuracy
against average latency) and profile.png (instructions per op type against the MAC bound)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyee.fileio import atomic_write


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _scale(summary: dict) -> tuple[float, str]:
    """Ticks -> millions of emulated instructions, or microseconds on real boards."""
    if summary["emulated"]:
        return 1e9 / summary["clock_hz"] / 1e6, "million emulated instructions"
    return 1e6 / summary["clock_hz"], "µs"


def _no_data(ax, text: str) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=9, transform=ax.transAxes)


def plot_bench(summary: dict, path: Path) -> None:
    plt = _pyplot()
    scale, unit = _scale(summary)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    rows = [r for r in summary["per_exit"] if "ticks" in r]
    if rows:
        ks = [r["exit"] for r in rows]
        med = np.array([r["ticks"]["median"] for r in rows]) * scale
        lo, hi = (np.array([r["ticks"][k] for r in rows]) * scale for k in ("min", "max"))
        axes[0].bar(ks, med, color="#4c72b0", width=0.6)
        axes[0].errorbar(ks, med, yerr=[med - lo, hi - med], fmt="none", ecolor="black", elinewidth=2, capsize=8)
        for k, m, a, b in zip(ks, med, lo, hi):
            axes[0].annotate(f"{m:.4g}\nmin-max spread {b - a:.2g}", (k, m), textcoords="offset points",
                             xytext=(0, 4), ha="center", va="bottom", fontsize=8)
        axes[0].set(title="Latency to each exit (median, min-max bars)", xlabel="exit", ylabel=unit, xticks=ks)
        axes[0].margins(y=0.2)
    else:
        _no_data(axes[0], "no sample completed: no latency to show")
    fractions = summary["exit_fractions"]
    axes[1].bar(range(len(fractions)), [100 * f for f in fractions], color="#55a868", width=0.6)
    axes[1].set(title=f"Exit distribution on the device ({summary['completed']} samples)", xlabel="exit",
                ylabel="% of samples", xticks=range(len(fractions)))
    if "threshold_sweep" in summary:
        sw = summary["threshold_sweep"]
        axes[2].plot([s["average_ticks"] * scale for s in sw], [100 * s["accuracy"] for s in sw], "o-", ms=4,
                     label="one threshold on every exit (sweep)")
        end, op = summary["final_exit_only"], summary["operating_point"]
        axes[2].plot([end["ticks"] * scale], [100 * end["accuracy"]], "s", color="black", label="final exit only")
        label = " / ".join(f"{t:.3g}" for t in op["thresholds"]) or "-"
        axes[2].plot([op["average_ticks"] * scale], [100 * op["accuracy"]], "*", ms=15, color="#c44e52",
                     label=f"the firmware's thresholds ({label})")
        axes[2].set(title="Accuracy vs average latency",
                    xlabel=f"average {unit}", ylabel="accuracy (%)")
        axes[2].legend(fontsize=8)
    else:
        _no_data(axes[2], "No accuracy/latency curve: the latency of every exit is needed.\n"
                          "Run the bench with --force-samples N (N > 0), or on more samples.")
    for ax in axes:
        if ax.axison:
            ax.ticklabel_format(style="plain", useOffset=False)
    fig.suptitle(f"tinyee bench: model {summary['model_id']} on {summary['board']}"
                 + (" (emulated: instruction counts, not time)" if summary["emulated"] else ""))
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def plot_profile(profile: dict, op_rows: list[dict], macs_per_instruction: int, path: Path) -> None:
    """Instructions per op type (summed over segments) beside the MAC bound of the ops that multiply."""
    plt = _pyplot()
    unit = profile["unit"]
    totals: dict[str, list[float]] = {}
    for r in op_rows:
        t = totals.setdefault(r["op"], [0.0, 0.0])
        t[0] += r[unit]
        t[1] += r["macs"] / macs_per_instruction
    names = sorted(totals, key=lambda n: -totals[n][0])
    y = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(names) + 1.6))
    measured = ax.barh(y - 0.2, [totals[n][0] / 1e6 for n in names], height=0.4, color="#4c72b0", label="measured")
    ax.barh(y + 0.2, [totals[n][1] / 1e6 for n in names], height=0.4, color="#dd8452",
            label=f"MAC bound (MACs / {macs_per_instruction})")
    ax.bar_label(measured, fmt="%.2f", fontsize=8, padding=2)
    ax.margins(x=0.12)
    ax.set(yticks=y, yticklabels=names, xlabel=f"million {unit.replace('_', ' ')}",
           title=f"tinyee profile: {profile['board']}, {profile['kernels']} kernels ({profile['kernel_path']} path)")
    ax.invert_yaxis()
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
