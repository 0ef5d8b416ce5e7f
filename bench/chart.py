#!/usr/bin/env python3
"""Draw a bench/run.py JSON result as a PNG: req/s per scenario, one bar per server.

Then two panels per server: start-up to the first response and idle RSS.

    bench/.venv-chart/bin/python bench/chart.py RESULT.json CHART.png

bench/run.py calls it after each run (matplotlib lives in bench/.venv-chart,
never in the package's dependencies).  One panel per scenario, each with its
own scale: a 64 KiB POST and a 13-byte GET differ by an order of magnitude.
"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

#: Scenario order and titles; ws_idle measures memory, not req/s, and is left out.
TITLES = {
    "hello": "GET hello",
    "post64k": "POST 64 KiB echo",
    "stream": "stream 100 x 1 KiB",
    "ws_echo": "WebSocket echo",
    "h2tls": "HTTP/2 TLS",
    "h2c": "HTTP/2 cleartext",
}
#: Per-server measurements drawn after the scenarios (lower is better), and their units.
EXTRAS = {
    "startup_ms": ("start-up to first 200\n(ms, lower is better)", 1.0, "{:.0f}"),
    "idle_rss": ("idle RSS\n(MiB, lower is better)", 1 / 2**20, "{:.1f}"),
}
LABELS = {
    "ours": "daphne (this, --loop auto)",
    "ours-asyncio": "daphne (this, asyncio)",
    "daphne": "Daphne 4.2.3",
    "uvicorn": "uvicorn 0.55",
    "granian": "granian 2.8",
}
COLOURS = {
    "ours": "#1f6fb4",
    "ours-asyncio": "#6fa8dc",
    "daphne": "#999999",
    "uvicorn": "#e69138",
    "granian": "#6aa84f",
}


def draw(results: dict, title: str, path: str, ours_loop: str | None = None) -> None:
    servers = list(results)
    labels = dict(LABELS)
    if ours_loop:
        labels["ours"] = f"daphne (this, {ours_loop})"
    scenarios = [
        name for name in TITLES if any(name in results[server]["scenarios"] for server in servers)
    ]
    extras = [name for name in EXTRAS if all(name in results[server] for server in servers)]
    panels = len(scenarios) + len(extras)
    figure, axes = plt.subplots(1, panels, figsize=(2.3 * panels + 1, 3.8), squeeze=False)
    for index, axis in enumerate(axes[0]):
        if index < len(scenarios):
            scenario = scenarios[index]
            shown = [s for s in servers if results[s]["scenarios"].get(scenario, {}).get("rps")]
            values = [results[s]["scenarios"][scenario]["rps"] for s in shown]
            texts = [f"{v / 1000:.1f}k" if v >= 1000 else f"{v:.0f}" for v in values]
            panel_title = TITLES[scenario]
        else:
            name = extras[index - len(scenarios)]
            panel_title, scale, text_format = EXTRAS[name]
            shown = servers
            values = [results[s][name] * scale for s in shown]
            texts = [text_format.format(v) for v in values]
        bars = axis.bar(
            range(len(shown)),
            values,
            color=[COLOURS.get(s, "#444444") for s in shown],
            width=0.8,
        )
        for bar, text in zip(bars, texts, strict=True):
            axis.annotate(
                text,
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
            )
        axis.set_title(panel_title, fontsize=9)
        axis.set_xticks([])
        axis.tick_params(axis="y", labelsize=7)
        axis.set_ylim(0, max(values, default=1) * 1.15)
        axis.spines[["top", "right"]].set_visible(False)
    axes[0][0].set_ylabel("requests (or messages) per second", fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=COLOURS.get(s, "#444444")) for s in servers]
    figure.legend(
        handles,
        [labels.get(s, s) for s in servers],
        loc="lower center",
        ncol=len(servers),
        fontsize=8,
        frameon=False,
    )
    figure.suptitle(title, fontsize=10)
    figure.tight_layout(rect=(0, 0.08, 1, 0.95))
    figure.savefig(path, dpi=120)


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as handle:
        saved = json.load(handle)
    seconds = saved.get("args", {}).get("duration", "?")
    title = (
        "One server process pinned to one core, load generator on the other "
        f"({seconds} s per scenario); req/s: higher is better"
    )
    draw(saved["results"], title, sys.argv[2], saved.get("ours_loop"))


if __name__ == "__main__":
    main()
