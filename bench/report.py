"""Results to Markdown (targets beside measurements), a PNG chart, and bench/README.md's latest."""

from __future__ import annotations

from pathlib import Path

START, END = "<!-- latest results: written by `make bench` -->", "<!-- end of latest results -->"


def targets(r: dict) -> list[tuple[str, str, str, bool | None]]:
    """(target, goal, measured, met) for every target of the benchmark that this run measured."""
    rows = []
    t = r.get("training")
    if t:
        f32 = next(x for x in t["ours"] if x["precision"] == "float32" and x["xla"] is False)
        best_f32 = max((x for x in t["ours"] if x["precision"] == "float32"), key=lambda x: x["examples_per_second"])
        fastest = max(t["ours"], key=lambda x: x["examples_per_second"])
        rows += [
            ("float32 training vs PyTorch", ">= 2.5x", f"{best_f32['vs_pytorch']}x (XLA {best_f32['xla']}; "
             f"{f32['vs_pytorch']}x without)", best_f32["vs_pytorch"] >= 2.5),
            ("float32 training, fraction of float32 GEMM peak", ">= 70 %",
             f"{best_f32['peak_fraction']:.0%} of {r['gemm']['float32']['peak_gflops']} GFLOP/s",
             best_f32["peak_fraction"] >= 0.70),
            ("fastest precision vs PyTorch", ">= 3.5x", f"{fastest['vs_pytorch']}x ({fastest['precision']}, "
             f"XLA {fastest['xla']})", fastest["vs_pytorch"] >= 3.5),
        ]
    s = r.get("serving")
    if s:
        rows += [("serving, batch 256", ">= 5,000 texts/s", f"{s['batch256_texts_per_second']:,.0f} texts/s",
                  s["batch256_texts_per_second"] >= 5000),
                 ("serving latency, batch 1", "p99 <= 10 ms", f"p50 {s['batch1_p50_ms']} ms, p99 {s['batch1_p99_ms']} ms",
                  s["batch1_p99_ms"] <= 10)]
    p = r.get("preprocess")
    if p:
        jieba = next(x for x in p["results"] if x["tokenizer"] == "jieba")
        rows.append((f"jieba cleaning, {p['cores']} cores vs 1", ">= 1.8x",
                     f"{jieba['speedup']}x end to end; {jieba.get('speedup_after_start_up', '-')}x after the "
                     f"{jieba.get('start_up_seconds', '-')} s start-up", jieba["speedup"] >= 1.8 if p["cores"] >= 2 else None))
    a = r.get("time_to_accuracy")
    if a:
        theirs = max(c["test_accuracy"] for c in a["pytorch"]["curve"])
        rows.append((f"accuracy of {a['ours']['precision']} (time-to-accuracy run) vs PyTorch's best", ">= -0.5 points",
                     f"{a['ours']['test_accuracy']:.2%} vs {theirs:.2%}", a["ours"]["test_accuracy"] >= theirs - 0.005))
        bound = "" if a["pytorch_reached"] else " (PyTorch never reached it: a lower bound)"
        rows.append(("time to accuracy vs PyTorch", "<= 1/3", f"{a['ours_over_pytorch']:.2f} "
                     f"({a['ours']['seconds']} s vs {a['pytorch']['seconds']} s){bound}",
                     a["ours_over_pytorch"] <= 1 / 3 and a["ours"]["reached"]))
    g = r.get("growth")
    if g:
        worst = max(g["time_growth_4x"].values())
        rows.append(("growth in time, 4x data", "<= 4.4x", ", ".join(f"{k} {v}x" for k, v in g["time_growth_4x"].items()),
                     worst <= 4.4))
        mem = {k: g["memory_growth_4x"][k] for k in ("clean", "vocab")}
        rows.append(("peak memory of clean and vocab, 4x data", "bounded (<= 1.25x)",
                     ", ".join(f"{k} {v}x" for k, v in mem.items()), max(mem.values()) <= 1.25))
    big = r.get("large")
    if big:
        worst = max(big["clean_peak_mb"], big["vocab_peak_mb"])
        rows.append((f"peak memory, {big['lines']:,} lines through clean and vocab", f"< {big['limit_mb']:,} MB",
                     f"clean {big['clean_peak_mb']} MB, vocab {big['vocab_peak_mb']} MB", worst < big["limit_mb"]))
    return rows


def markdown(r: dict) -> str:
    m = r["machine"]
    out = [f"Run {r['date']} on {m['cpu']}, {m['cores']} cores ({', '.join(m['cpu_features']) or 'no SIMD flags'}), "
           f"{m['memory_gib']} GiB; {', '.join(f'{k} {v}' for k, v in m['versions'].items())}. "
           f"Command: `{r['command']}`, {r['seconds'] / 60:.1f} min.", "",
           "| target | goal | measured | met |", "|---|---|---|---|"]
    for name, goal, measured, met in targets(r):
        out.append(f"| {name} | {goal} | {measured} | {'yes' if met else 'n/a' if met is None else '**no**'} |")
    if "gemm" in r:
        out += ["", "GEMM peak (TensorFlow matmul, best of the shapes): "
                + ", ".join(f"{k} {v['peak_gflops']} GFLOP/s" for k, v in r["gemm"].items()) + "."]
    t = r.get("training")
    if t:
        out += ["", f"Training throughput, reference configuration ({t['flops_per_example'] / 1e6:.1f} MFLOP per "
                "example per step):", "", "| implementation | precision | XLA | examples/s | vs PyTorch | GFLOP/s | of peak |",
                "|---|---|---|---|---|---|---|",
                f"| PyTorch (Conv2d) | float32 | - | {t['pytorch_examples_per_second']:,.0f} | 1.00x | - | - |"]
        for x in t["ours"]:
            out.append(f"| textcnn | {x['precision']} | {'on' if x['xla'] else 'off'} | {x['examples_per_second']:,.0f} | "
                       f"{x['vs_pytorch']}x | {x['gflops']} | {x['peak_fraction']:.0%} ({x['peak_of']}) |")
    if t and t.get("phases"):
        out += ["", "Where a training step's time goes (XLA off; forward = 1/3 of the FLOPs, backward = 2/3):", "",
                "| precision | phase | ms | share | GFLOP/s | of peak |", "|---|---|---|---|---|---|"]
        for x in t["phases"]:
            out.append(f"| {x['precision']} | {x['phase']} | {x['ms']} | {x['share']:.0%} | {x['gflops'] or '-'} | "
                       f"{format(x['peak_fraction'], '.0%') if x['peak_fraction'] else '-'} |")
    s = r.get("serving")
    if s:
        out += ["", f"Serving: {s['batch256_texts_per_second']:,.0f} texts/s at batch 256; batch 1 p50 "
                f"{s['batch1_p50_ms']} ms, p99 {s['batch1_p99_ms']} ms; `textcnn predict` on 10,000 lines "
                f"{s['predict_cli_10k_seconds']} s end to end ({s['predict_cli_lines_per_second']:,.0f} lines/s, "
                "process start and model load included)."]
    p = r.get("preprocess")
    if p:
        out += ["", "| clean, tokenizer | lines | 1 core lines/s | all cores lines/s | speed-up | start-up s | "
                "speed-up after start-up |", "|---|---|---|---|---|---|---|"]
        for x in p["results"]:
            out.append(f"| {x['tokenizer']} | {x['lines']:,} | {x['one_core_lines_per_second']:,.0f} | "
                       f"{x['all_cores_lines_per_second']:,.0f} | {x['speedup']}x | {x.get('start_up_seconds', '-')} | "
                       f"{x.get('speedup_after_start_up', '-')}x |")
    a = r.get("time_to_accuracy")
    if a:
        o, t2 = a["ours"], a["pytorch"]
        out += ["", f"Time to {a['target']:.2%} test accuracy on THUCNews: our whole pipeline {o['seconds']} s "
                f"(test accuracy {o['test_accuracy']:.4f}, {o['precision']}, XLA {o['xla']}); PyTorch training "
                f"alone {t2['seconds']} s ({'reached' if t2['reached'] else 'not reached'} after {t2['epochs']} "
                f"epochs, test accuracy {t2['test_accuracy']:.4f})."]
    g = r.get("growth")
    if g:
        out += ["", "| data | lines | clean s | clean MB | vocab s | vocab MB | epoch lines | epoch s (loop) | epoch MB |",
                "|---|---|---|---|---|---|---|---|---|"]
        for x in g["rows"]:
            out.append(f"| {x['factor']}x | {x['lines']:,} | {x['clean_seconds']} | {x['clean_peak_mb']} | "
                       f"{x['vocab_seconds']} | {x['vocab_peak_mb']} | {x['epoch_lines']:,} | {x['epoch_seconds']} "
                       f"({x['epoch_loop_seconds']}) | {x['epoch_peak_mb']} |")
    big = r.get("large")
    if big:
        out += ["", f"Large input: {big['lines']:,} lines ({big['input']}, {big['input_mb']} MB): clean "
                f"{big['clean_seconds']} s, peak {big['clean_peak_mb']} MB; vocab {big['vocab_seconds']} s, peak "
                f"{big['vocab_peak_mb']} MB."]
    for name, reason in r.get("skipped", {}).items():
        out += ["", f"Skipped {name}: {reason}"]
    return "\n".join(out) + "\n"


def chart(r: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [k for k in ("training", "time_to_accuracy", "growth") if r.get(k)]
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        if panel == "training":
            t = r["training"]
            names = ["PyTorch"] + [f"{x['precision'].replace('mixed_', '')}{' XLA' if x['xla'] else ''}" for x in t["ours"]]
            values = [t["pytorch_examples_per_second"]] + [x["examples_per_second"] for x in t["ours"]]
            ax.barh(names, values, color=["#888"] + ["#1f77b4"] * len(t["ours"]))
            ax.set_xlabel("training examples/s (higher is better)")
            ax.set_title("Train step, reference configuration")
        elif panel == "time_to_accuracy":
            a = r["time_to_accuracy"]
            ax.bar(["textcnn pipeline", "PyTorch training"], [a["ours"]["seconds"], a["pytorch"]["seconds"]],
                   color=["#1f77b4", "#888"])
            ax.set_ylabel(f"seconds to {a['target']:.2%} test accuracy (lower is better)")
            ax.set_title("Time to accuracy, THUCNews")
        else:
            g = r["growth"]
            factors = [x["factor"] for x in g["rows"]]
            for step in ("clean", "vocab", "epoch"):
                base = g["rows"][0][f"{step}_seconds"]
                ax.plot(factors, [x[f"{step}_seconds"] / base for x in g["rows"]], marker="o", label=step)
            ax.plot(factors, factors, "k--", label="linear")
            ax.set_xlabel("data size (x THUCNews train)")
            ax.set_ylabel("time relative to 1x")
            ax.set_title("Growth")
            ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def update_readme(readme: Path, text: str, chart_name: str | None) -> None:
    body = readme.read_text(encoding="utf-8")
    if START not in body or END not in body:
        return
    head, rest = body.split(START, 1)
    tail = rest.split(END, 1)[1]
    figure = f"\n![latest benchmark](results/{chart_name})\n" if chart_name else ""
    readme.write_text(f"{head}{START}\n{text}{figure}{END}{tail}", encoding="utf-8")
