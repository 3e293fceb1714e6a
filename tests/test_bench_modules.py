"""The benchmarks run by hand (``make bench``), not in the suite, so a module they import that
moves would break them unnoticed until someone measures: each must at least import."""
import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.mark.parametrize("module", sorted(path.stem for path in BENCH.glob("*.py") if path.stem != "__init__"))
def test_the_benchmark_imports(module):
    importlib.import_module(f"bench.{module}")
