"""Regenerates every PyTorch parity fixture in tests/parity/fixtures/.

    /usr/bin/python3 tests/parity/gen.py        (or: make parity-fixtures)

Runs gen_core.py (layers, activations, losses, SGD, Adam) first, then every
other tests/parity/gen_*.py in name order, each as its own process with this
interpreter. Each script writes its own fixture files; they are deterministic
(fixed seeds, float64 references rounded to float32), so regenerating with the
same PyTorch gives byte-identical files. Stops at the first script that fails.
"""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def scripts():
    names = sorted(n for n in os.listdir(HERE) if n.startswith("gen_") and n.endswith(".py"))
    if "gen_core.py" in names:
        names.remove("gen_core.py")
        names.insert(0, "gen_core.py")
    return names


def main():
    import torch  # fail early, with a clear message, when PyTorch is missing

    print(f"gen.py: python {sys.version.split()[0]}, torch {torch.__version__}")
    for name in scripts():
        t0 = time.time()
        print(f"gen.py: running {name}", flush=True)
        rc = subprocess.call([sys.executable, os.path.join(HERE, name)], cwd=HERE)
        if rc != 0:
            sys.exit(f"gen.py: {name} failed with exit status {rc}")
        print(f"gen.py: {name} done in {time.time() - t0:.1f} s", flush=True)
    fixtures = os.path.join(HERE, "fixtures")
    total = sum(os.path.getsize(os.path.join(fixtures, f)) for f in os.listdir(fixtures))
    print(f"gen.py: {len(os.listdir(fixtures))} fixture files, {total / 1e6:.2f} MB in total")


if __name__ == "__main__":
    main()
