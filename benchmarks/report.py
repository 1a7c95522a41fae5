"""Write benchmarks/results.json into docs/benchmarks.md and docs/img/*.png.

    python benchmarks/report.py [results.json]

Only the block between ``<!-- generated: begin -->`` and
``<!-- generated: end -->`` is rewritten (inserted after the title the first
time); every other section of the page is kept as it is. The file is re-read
just before writing, so sections others add meanwhile survive.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "benchmarks.md"
IMG = ROOT / "docs" / "img"
BEGIN = "<!-- generated: begin (benchmarks/report.py; edit the generator, not this block) -->"
BEGIN_PREFIX = "<!-- generated: begin"
END = "<!-- generated: end -->"
X, DASH = "\u00d7", "\u2013"  # the page's multiplication sign and en dash


def us(value: float) -> str:
    if value >= 100:
        return f"{value:.0f} µs"
    return f"{value:.2f} µs" if value < 10 else f"{value:.1f} µs"


def ratio(stats: dict[str, float] | None) -> str:
    if not stats:
        return f"{DASH}"
    return f"**{stats['median']:.2f}{X}** ({stats['min']:.2f}{DASH}{stats['max']:.2f})"


def med(side: dict[str, Any], key: str) -> float | None:
    return side[key]["median"] if key in side else None


def cases(results: dict[str, Any], engine: str) -> dict[str, Any]:
    found = results["engines"].get(engine, {}).get("cases", [])
    return {case["name"]: case for case in found}


# -- tables ----------------------------------------------------------------------


def pool_table(results: dict[str, Any], names: list[str]) -> list[str]:
    lines = [
        f"| engine | case | peer | greenabc | peer | ratio greenabc / peer (min{DASH}max) |",
        "|---|---|---|---|---|---|",
    ]
    notes: list[str] = []
    for engine in results["engines"]:
        by_name = cases(results, engine)
        for name in names:
            case = by_name.get(name)
            if case is None:
                continue
            ours = case["sides"][case["ours"]]
            for peer, ratios in case["ratios"].items():
                theirs = case["sides"][peer]
                mark = ""
                if peer in case["notes"]:
                    notes.append(case["notes"][peer])
                    mark = f" [{len(notes)}]"
                lines.append(
                    f"| {engine} | {case['title']} | {peer}{mark} | {_us(ours)} | {_us(theirs)}"
                    f" | {ratio(ratios.get('us'))} |"
                )
            for what, why in case["notes"].items():
                if what not in case["sides"]:
                    lines.append(f"| {engine} | {case['title']} | {what} | | | {why} |")
    lines += [""] + [f"[{i}] {note}." for i, note in enumerate(notes, 1)]
    return lines


def _us(side: dict[str, Any]) -> str:
    value = med(side, "us")
    return "error" if value is None else us(value)


def timer_table(results: dict[str, Any]) -> list[str]:
    lines = [
        f"| engine | timer | schedule | CPU per timer | CPU ratio greenabc / it (min{DASH}max)"
        " | last fires late | worst late | worst-late ratio | early | never fired |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for engine in results["engines"]:
        case = cases(results, engine).get("timers")
        if case is None:
            continue
        for name, side in case["sides"].items():
            if "cpu_us" not in side:
                lines.append(f"| {engine} | {name} | error | | | | | | | |")
                continue
            r = case["ratios"].get(name, {})
            lines.append(
                f"| {engine} | {name} | {us(side['schedule_us']['median'])}"
                f" | {us(side['cpu_us']['median'])}"
                f" | {ratio(r.get('cpu_us')) if r else '(greenabc)'}"
                f" | {side['late_last_ms']['median']:.1f} ms"
                f" | {side['late_worst_ms']['median']:.1f} ms ({side['late_worst_ms']['max']:.1f})"
                f" | {ratio(r.get('late_worst_ms')) if r else ''}"
                f" | {side['early']['max']:.0f} | {side['missed']['max']:.0f} |"
            )
    return lines


RSS_CASES = ("sleepers", "echo")  # one side per process (benchmarks/cases/memory.py)
PRIMITIVE = "primitive/"  # benchmarks/cases/primitives.py's case names


def rss_cases(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (engine, case)
        for engine in results["engines"]
        for name, case in cases(results, engine).items()
        if name in RSS_CASES
    ]


def rss_table(results: dict[str, Any]) -> list[str]:
    lines = [
        "| engine | case | greenabc wall | raw wall | wall ratio | greenabc peak RSS | raw peak RSS"
        " | RSS ratio | RSS growth ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for engine, case in rss_cases(results):
        ours = case["sides"]["greenabc"]
        [(peer, ratios)] = case["ratios"].items()
        theirs = case["sides"][peer]
        if "wall_s" not in ours or "wall_s" not in theirs:
            lines.append(f"| {engine} | {case['title']} | error | | | | | | |")
            continue
        lines.append(
            f"| {engine} | {case['title']} (vs {peer})"
            f" | {ours['wall_s']['median']:.2f} s | {theirs['wall_s']['median']:.2f} s"
            f" | {ratio(ratios.get('wall_s'))}"
            f" | {ours['rss_mib']['median']:.1f} MiB | {theirs['rss_mib']['median']:.1f} MiB"
            f" | {ratio(ratios.get('rss_mib'))} | {ratio(ratios.get('growth_mib'))} |"
        )
    return lines


def floor_lines(results: dict[str, Any]) -> list[str]:
    case = cases(results, "threads").get("floor")
    if case is None:
        return ["(not measured: the threads run failed)"]
    return [
        f"| operation | cost (median, min{DASH}max of rounds) |",
        "|---|---|",
        *(
            f"| {name} | {us(side['us']['median'])}"
            f" ({us(side['us']['min'])}{DASH}{us(side['us']['max'])}) |"
            for name, side in case["sides"].items()
        ),
    ]


def primitives_table(results: dict[str, Any]) -> list[str]:
    found = {
        engine: {n: c for n, c in cases(results, engine).items() if n.startswith(PRIMITIVE)}
        for engine in ("gevent", "eventlet", "threads")
        if engine in results["engines"]
    }
    engines = [e for e, prims in found.items() if prims]
    if not engines:
        return ["(not measured)"]
    head = "| case | " + " | ".join(f"{e}: raw / greenabc | ratio" for e in engines) + " |"
    lines = [head, "|---|" + "---|---|" * len(engines)]
    for name, first in found[engines[0]].items():
        cells = []
        for engine in engines:
            case = found[engine].get(name)
            raw, ours = (
                (case["sides"].get(k, {}) for k in ("raw", "greenabc")) if case else ({}, {})
            )
            if "ns" not in raw or "ns" not in ours:
                cells += ["error" if case else "", ""]
                continue
            cells.append(f"{raw['ns']['median']:.0f} / {ours['ns']['median']:.0f} ns")
            cells.append(ratio(case["ratios"]["raw"].get("ns")).replace("**", ""))
        lines.append(f"| {first['title']} | " + " | ".join(cells) + " |")
    return lines


def aio_table(results: dict[str, Any]) -> list[str]:
    """greenabc.aio's crossings (benchmarks/cases/aio_bridge.py) against each peer."""
    lines = [
        "| engine | crossing | greenabc | peer | peer's | greenabc / peer |",
        "|---|---|---|---|---|---|",
    ]
    for engine in results["engines"]:
        for name, case in cases(results, engine).items():
            if not name.startswith("aio/"):
                continue
            ours = case["sides"][case["ours"]]
            for peer, ratios in case["ratios"].items():
                if "us" not in ratios:  # a case of greenabc's sides alone
                    continue
                theirs = case["sides"][peer]
                lines.append(
                    f"| {engine} | {case['title']} | {us(ours['us']['median'])} | {peer}"
                    f" | {us(theirs['us']['median'])} | {ratio(ratios.get('us'))} |"
                )
    return lines if len(lines) > 2 else ["(not measured)"]


def gc_table(results: dict[str, Any]) -> list[str]:
    outcomes = ("success", "failure", "killed", "timed_out")
    lines = [
        "| engine | GC ms per 100k tasks | longest GC pause | gen-2 collections | soak wall"
        " | " + " | ".join(f"objects left per {o.replace('_', ' ')}" for o in outcomes) + " |",
        "|---|---|---|---|---|" + "---|" * len(outcomes),
    ]

    def fig(side: dict[str, Any], key: str, unit: str = "") -> str:
        if key not in side:
            return "error"
        s = side[key]
        return f"{s['median']:.1f}{unit} ({s['min']:.1f}{DASH}{s['max']:.1f})"

    for engine in results["engines"]:
        by_name = cases(results, engine)
        soak, cycles = by_name.get("gc_soak"), by_name.get("gc_cycles")
        if soak is None or cycles is None:
            continue
        s, c = soak["sides"][soak["ours"]], cycles["sides"][cycles["ours"]]
        lines.append(
            f"| {engine} | {fig(s, 'gc_ms_per_100k', ' ms')}"
            f" | {fig(s, 'gc_longest_pause_ms', ' ms')}"
            f" | {fig(s, 'gc_gen2_collections')} | {fig(s, 'wall_s', ' s')} | "
            + " | ".join(fig(c, o) for o in outcomes)
            + " |"
        )
    return lines


def check_patching_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    for engine in results["engines"]:
        case = cases(results, engine).get("check_patching")
        if case is None:
            continue
        side = case["sides"][case["ours"]]
        if "ms" not in side:
            lines.append(f"- {engine}: error")
            continue
        lines.append(
            f"- {engine}: {side['ms']['median']:.1f} ms ({side['ms']['min']:.1f}{DASH}"
            f"{side['ms']['max']:.1f}) with {side['modules']['median']:,.0f} modules imported,"
            f" {side['findings']['median']:.0f} findings"
        )
    return lines or ["(not measured)"]


# -- targets ------------------------------------------------------------------------


def _ratio_of(results: dict[str, Any], engine: str, name: str, peer: str, key: str = "us") -> Any:
    case = cases(results, engine).get(name)
    if case is None:
        return None
    for contender, ratios in case["ratios"].items():
        if contender.startswith(peer):
            return ratios.get(key)
    return None


def cheapest_raw_timer(case: dict[str, Any], engine: str) -> str | None:
    raw = {
        "gevent": ("gevent loop.timer", "gevent.spawn_later"),
        "eventlet": ("eventlet hub.schedule_call_global", "eventlet.spawn_after"),
    }.get(engine, ())
    costs = {n: med(case["sides"][n], "cpu_us") for n in raw if n in case["sides"]}
    costs = {n: c for n, c in costs.items() if c is not None}
    return min(costs, key=lambda n: costs[n]) if costs else None


#: Issue 19's targets: (what, engine, case, peer, metric, wanted at most).
TARGETS_19 = (
    ("spawn+complete vs gevent Pool.spawn", "gevent", "spawn", "gevent Pool.spawn", "us", 0.08),
    (
        "spawn+complete vs eventlet GreenPool.spawn",
        "eventlet",
        "spawn",
        "eventlet GreenPool.spawn",
        "us",
        0.07,
    ),
    (
        "apply_async + callback + per-task timeout vs gevent Pool.apply_async (its Timeout)",
        "gevent",
        "apply_timeout",
        "gevent Pool.apply_async",
        "us",
        0.12,
    ),
    (
        "the same vs eventlet GreenPool.spawn_n + callback (its Timeout)",
        "eventlet",
        "apply_timeout",
        "eventlet GreenPool.spawn_n",
        "us",
        0.10,
    ),
    (
        "threads spawn+complete vs ThreadPoolExecutor(64)",
        "threads",
        "spawn_64_workers",
        "ThreadPoolExecutor",
        "us",
        0.15,
    ),
    (
        "timers: CPU per timer fired vs gevent loop.timer",
        "gevent",
        "timers",
        "gevent loop.timer",
        "cpu_us",
        1.0,
    ),
    (
        "timers: the same vs loop.timer re-armed when early (never early, like greenabc's)",
        "gevent",
        "timers",
        "gevent loop.timer, re-armed",
        "cpu_us",
        0.8,
    ),
    ("greenabc.timeout() scope vs gevent.Timeout", "gevent", "scope", "gevent.Timeout", "us", 0.9),
)


def _forms(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(the core's form, its results): the compiled run, and the pure-Python one."""
    found = [(results.get("core", "as installed"), results)]
    if results.get("pure"):
        found.append((results["pure"].get("core", "pure Python"), results["pure"]))
    return found


def _met(stats: dict[str, float] | None, limit: float) -> str:
    return f"{DASH}" if not stats else ("yes" if stats["median"] <= limit else "**no**")


def targets(results: dict[str, Any]) -> list[str]:
    forms = _forms(results)
    head = " | ".join(f"{form} (min{DASH}max)" for form, _ in forms)
    lines = [
        f"| target (issue 19) | wanted | {head} | met? |",
        "|---|---|" + "---|" * len(forms) + "---|",
    ]
    for what, engine, name, peer, key, limit in TARGETS_19:
        measured = [_ratio_of(found, engine, name, peer, key) for _, found in forms]
        cells = " | ".join(ratio(stats) or DASH for stats in measured)
        lines.append(f"| {what} | \u2264 {limit:g}{X} | {cells} | {_met(measured[0], limit)} |")
    lines += ["", *earlier_targets(results)]
    return lines


def earlier_targets(results: dict[str, Any]) -> list[str]:
    """Issue 11's targets that issue 19 did not replace."""
    rows: list[tuple[str, Any, float]] = []
    for engine in ("gevent", "eventlet"):
        case = cases(results, engine).get("timers")
        cheapest = cheapest_raw_timer(case, engine) if case else None
        if case and cheapest:
            r = case["ratios"][cheapest]
            if engine == "eventlet":
                rows.append((f"timers: CPU per timer vs {cheapest}", r.get("cpu_us"), 1.0))
            rows.append((f"timers: worst lateness vs {cheapest}", r.get("late_worst_ms"), 1.0))
    rows.append(
        (
            "timeout scope enter+exit vs eventlet.Timeout",
            _ratio_of(results, "eventlet", "scope", "eventlet.Timeout"),
            1.0,
        )
    )
    for _engine, case in rss_cases(results):
        [(peer, ratios)] = case["ratios"].items()
        rows.append((f"peak RSS, {case['title']} vs {peer}", ratios.get("rss_mib"), 1.0))
    lines = [
        f"| earlier target (issue 11) | wanted | measured greenabc / peer (min{DASH}max) | met? |",
        "|---|---|---|---|",
    ]
    for what, stats, limit in rows:
        lines.append(f"| {what} | \u2264 {limit:g}{X} | {ratio(stats)} | {_met(stats, limit)} |")
    early = {
        engine: cases(results, engine)["timers"]["sides"]["greenabc Timer.call_after"]["early"][
            "max"
        ]
        for engine in results["engines"]
        if "timers" in cases(results, engine)
    }
    shown = ", ".join(f"{e}: {n:.0f}" for e, n in early.items())
    lines.append(
        f"| greenabc timers never early (most in any round) | 0 | {shown} | "
        f"{'yes' if not any(early.values()) else '**no**'} |"
    )
    return lines


# -- charts ---------------------------------------------------------------------------


def _short(label: str) -> str:
    for long, short in (
        (" submit+add_done_callback", ""),
        (" submit+result", ""),
        (" (no per-task limit)", " (no limit)"),
        ("ThreadPoolExecutor", "TPE"),
        ("GreenThreadPoolExecutor", "GreenTPE"),
    ):
        label = label.replace(long, short)
    return label if len(label) <= 80 else label[:79] + "..."


def chart(path: Path, title: str, bars: list[tuple[str, dict[str, float]]]) -> bool:
    """Horizontal bars of ratios (median, min-max whiskers), 1.0 marked."""
    if not bars:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [_short(label) for label, _ in bars]
    medians = [s["median"] for _, s in bars]
    low = [s["median"] - s["min"] for _, s in bars]
    high = [s["max"] - s["median"] for _, s in bars]
    fig, ax = plt.subplots(figsize=(12, 0.34 * len(bars) + 1.3))
    colors = ["tab:green" if m <= 1 else "tab:red" for m in medians]
    ax.barh(range(len(bars)), medians, xerr=[low, high], color=colors, alpha=0.8, capsize=3)
    ax.set_yticks(range(len(bars)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel(f"greenabc / peer, per round (median, min{DASH}max); < 1: greenabc cheaper")
    ax.set_title(title, fontsize=10)
    for i, m in enumerate(medians):
        ax.text(m, i, f" {m:.2f}{X}", va="center", fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def chart_bars(
    results: dict[str, Any], names: list[str], key: str = "us"
) -> list[tuple[str, dict[str, float]]]:
    bars = []
    for engine in results["engines"]:
        by_name = cases(results, engine)
        for name in names:
            case = by_name.get(name)
            if case is None:
                continue
            for peer, ratios in case["ratios"].items():
                if key in ratios:
                    bars.append((f"{engine}: {case.get('label', name)} vs {peer}", ratios[key]))
    return bars


def charts(results: dict[str, Any]) -> list[str]:
    made = []
    spawn = ["spawn", "spawn_timeout", "apply", "apply_timeout"]
    if chart(
        IMG / "bench-spawn.png", "spawn+complete: greenabc / peer", chart_bars(results, spawn)
    ):
        made.append(("bench-spawn.png", "spawn+complete ratios"))
    if chart(
        IMG / "bench-timers.png",
        "timers, CPU per timer: greenabc / peer",
        chart_bars(results, ["timers"], "cpu_us"),
    ):
        made.append(("bench-timers.png", "timer CPU ratios"))
    other = chart_bars(
        results, ["scope", "scope_function", "celery_pool", "celery_pool_timeout", "executor"]
    )
    for engine, case in rss_cases(results):
        for peer, ratios in case["ratios"].items():
            for key, what in (("rss_mib", "peak RSS"), ("wall_s", "wall")):
                if key in ratios:
                    other.append((f"{engine}: {case['name']} {what} vs {peer}", ratios[key]))
    if chart(
        IMG / "bench-other.png",
        "timeout scopes, Celery pools, executor, memory: greenabc / peer",
        other,
    ):
        made.append(("bench-other.png", "other ratios"))
    return [f"![{alt}](img/{name})" for name, alt in made]


# -- the page ---------------------------------------------------------------------------


def block(results: dict[str, Any]) -> str:
    m = results["machine"]
    v = next(iter(results["engines"].values()), {}).get("versions", {})
    rounds = next(iter(results["engines"].values()), {}).get("rounds", "?")
    size = (
        "10k tasks and 10k timers (`--quick`)" if results["quick"] else "100k tasks and 100k timers"
    )
    images = charts(results)
    out = [
        BEGIN,
        "## All peers, one run (`benchmarks/run.py`)",
        "",
        "Reproduce everything below, tables and charts, with one command:",
        "",
        "```sh",
        ".venv/bin/pip install -e '.[dev,bench]' -e adapters/gevent -e adapters/eventlet",
        f".venv/bin/{results['command']}",
        "```",
        "",
        f"Sizes: {size}, pool size 1000 (threads: the default worker count), {rounds} rounds;"
        " the Celery-pool and executor cases use a quarter of the tasks.",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}, Python {m['python']};"
        f" the run took {m.get('minutes', 0):.1f} min, load average {m['load_before']:.1f}"
        f" before and {m.get('load_after', 0):.1f} after.",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        "",
        "**How to read it.** Each engine runs in a process of its own (`greenabc bench` with"
        " this repository's cases added, `--extend benchmarks.cases:extend`), patched first. In"
        " each"
        " round every side of a case (greenabc and its peers) runs once, in a shuffled order, and"
        " the ratio greenabc / peer is taken *within the round*; the tables give the median of"
        f" those per-round ratios and their min{DASH}max, never a ratio of medians. Below 1 means"
        " greenabc is cheaper. The absolute figures (medians of the rounds) are for reading"
        " against the floor only: **this machine is a shared 2-core VM on which other test runs"
        f" were going on during the run**, so absolute times are noisy (up to ~2{X} between runs);"
        " ratios within a round tolerate that better, and the"
        f" min{DASH}max shows how much they moved.",
        "",
        *images,
        "",
        "### The floor",
        "",
        "What the hardware allows: no engine, just greenlet.",
        "",
        *floor_lines(results),
        "",
        "### Targets",
        "",
        *targets(results),
        "",
        "### Spawn+complete",
        "",
        "By `spawn` (the task's result fetched) and by `apply_async` with a callback (then"
        " `join`), with and without a per-task timeout of 10 s (never expiring: its bookkeeping"
        " is what costs). Raw pools get their per-task limit the way their users write it:"
        " the engine's `Timeout` around the call (as Celery's gevent pool does). Celery's pools"
        " are driven as the worker drives them: `start()`, `apply_async(target, args, kwargs,"
        " callback=..., timeout=...)`, `stop()`.",
        "",
        *pool_table(
            results,
            [
                *("spawn", "spawn_timeout", "apply", "apply_timeout"),
                *("spawn_2_workers", "spawn_32_workers"),
            ],
        ),
        "",
        "On threads the spawn case also runs at 2 and 32 workers: at 2, greenabc pays for its"
        " bound (`spawn` blocks while `size` tasks are accepted, so nearly every task wakes the"
        " spawning thread, where `ThreadPoolExecutor` queues every future without bound).",
        "",
        "### Timers",
        "",
        "All timers due at random within the window (the same seeded delays for every side);"
        " each deadline is read *before* its call is scheduled, so time spent scheduling counts"
        " as lateness on every side alike. CPU per timer is the process's CPU time from the first"
        " call scheduled to the last one fired, divided by the count. *Early* counts callbacks"
        " that ran before their deadline (by `time.monotonic`), in the worst round;"
        " *worst late* is the median of the rounds' worst (max in brackets).",
        "",
        *timer_table(results),
        "",
        "### Timeout scopes, Celery pools, the executor",
        "",
        *pool_table(
            results,
            [
                *("scope", "scope_function", "scope_named"),
                *("celery_pool", "celery_pool_timeout", "executor"),
            ],
        ),
        "",
        "### Memory: sleepers and echo clients",
        "",
        "Each side in a fresh process set up alike (the same imports and patching), started by"
        " the round like any other side; peak RSS is the process's `VmHWM`, imports included"
        " (not `ru_maxrss`, which Linux keeps across `exec` from the process that started it);"
        " *growth* is the peak over the peak after imports and patching. Threads are not"
        " measured here (10k OS threads).",
        "",
        *rss_table(results),
        "",
        "### Primitives",
        "",
        "Each primitive against the raw engine's own doing the same operations, in the same"
        " rounds as every other case (see the section below for what they mean).",
        "",
        *primitives_table(results),
        "",
        "### The asyncio bridge",
        "",
        "One crossing at a time each way (`greenabc.aio.run`, `run_sync`) against each"
        " engine's own way; see [asyncio](asyncio.md#where-the-loop-runs).",
        "",
        *aio_table(results),
        "",
        "### The cyclic garbage collector",
        "",
        "`benchmarks/reliability.py`'s fault soak (successes, failures, kills, hard and soft"
        " timeouts, resizes; the caller keeps every task handle) once per round, the"
        " collector's time measured with `gc.callbacks`: milliseconds per 100k tasks, the"
        " longest single pause, generation-2 collections. Then, with the collector off, tasks of"
        " each outcome run, joined and dropped: the objects `gc.collect()` then finds, per task"
        f" (0: freed by reference counting alone). Median (min{DASH}max) of the rounds; greenabc"
        " alone, no ratio.",
        "",
        *gc_table(results),
        "",
        "### `check_patching()` at start-up",
        "",
        "3,000 generated modules imported (a tenth with an early `from socket import socket`),"
        " then patched late, then one `check_patching()` call timed, in a fresh process each"
        f" round. Median (min{DASH}max) of the rounds; no peer.",
        "",
        *check_patching_lines(results),
        END,
    ]
    return "\n".join(out) + "\n"


def write(results: dict[str, Any]) -> None:
    generated = block(results)
    page = PAGE.read_text()  # re-read now: others' sections survive
    if BEGIN_PREFIX in page and END in page:
        head, rest = page.split(BEGIN_PREFIX, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        page = head + generated + "\n" + tail
    else:
        title, _, body = page.partition("\n")
        page = f"{title}\n\n{generated}\n{body.lstrip(chr(10))}"
    PAGE.write_text(page)
    print(f"wrote {PAGE.relative_to(ROOT)} and docs/img/bench-*.png", file=sys.stderr)


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "results.json"
    write(json.loads(path.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
