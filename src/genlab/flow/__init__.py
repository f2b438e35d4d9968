"""Flow matching building blocks that know no models: probability paths, couplings of noise and data, losses."""

from genlab.flow.couplings import COUPLINGS, couple, independent_coupling, ot_coupling
from genlab.flow.losses import cfm_loss
from genlab.flow.paths import TIME_DISTRIBUTIONS, CondOTPath, path_times

__all__ = ["CondOTPath", "TIME_DISTRIBUTIONS", "path_times", "COUPLINGS", "couple", "independent_coupling", "ot_coupling", "cfm_loss"]
