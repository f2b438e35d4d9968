"""How the diffusion MLP's layers receive the noise level: a shift ("add") against FiLM's scale and shift ("film").

The conditioning sweep of :mod:`tuning_sweep` (same columns; tuning sets only, never the evaluation sets):

    python benchmarks/mlp_conditioning.py --models edm --budget 30 --seeds 0,1 --out benchmarks/results/mlp_conditioning_edm
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from tuning_sweep import main as sweep  # noqa: E402

if __name__ == "__main__":
    sweep(option="conditioning", values="add,film", doc=__doc__)
