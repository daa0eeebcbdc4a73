"""Markdown ratio table of a ``benchmarks.pga`` JSON (the one in BENCHMARKS.md).

Run:  python -m benchmarks.table benchmarks/results/cpu.json
"""

from __future__ import annotations

import json
import sys


def _k(rate: float) -> str:
  return f"{rate / 1e3:,.0f}k"


def table(res: dict) -> str:
  variants = list(res["results"][0]["rates"])
  lines = ["| (d, m, B) | GEMM bound | " + " | ".join(variants) + " |",
           "|---" * (len(variants) + 2) + "|"]
  for r in res["results"]:
    cells = [f"{_k(r['rates'][v]['median'])} ({r['ratios'][v]:.2f})" for v in variants]
    lines.append(f"| {tuple(r['size'])} | {_k(r['gemm_bound'])} | " + " | ".join(cells) + " |")
  lines.append("")
  lines.append("| (d, m, B) | suite / torch_eager | suite / torchattacks_pgdl2 | suite / art_pgd"
               " | suite / foolbox_l2pgd |")
  lines.append("|---|---|---|---|---|")
  for r in res["results"]:
    s = r["rates"]["suite"]["median"]
    cells = [f"{s / r['rates'][v]['median']:.2f}x" if v in r["rates"] else "-"
             for v in ("torch_eager", "torchattacks_pgdl2", "art_pgd", "foolbox_l2pgd")]
    lines.append(f"| {tuple(r['size'])} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def main(argv=None):
  argv = sys.argv[1:] if argv is None else argv
  with open(argv[0]) as f:
    print(table(json.load(f)))


if __name__ == "__main__":
  main()
