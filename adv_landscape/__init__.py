"""adv_landscape: checks, by computation at scale, what Deng, He, Huang and Su
(ICML 2020) prove about projected gradient ascent on the inputs of two-layer
networks: PGA endpoints certified as local maxima on the sphere, distinct
maxima counted over many restarts, iteration counts compared with theory.
"""

from adv_landscape import api
from adv_landscape._version import __version__ as __version__
from adv_landscape.activations import ACTIVATIONS, Activation, get_activation
from adv_landscape.api import CensusResult, Maximum, synthetic_instance
from adv_landscape.ascent import INITS, STEP_RULES, PGAResult, PGAState, pga, run_pga
from adv_landscape.bounds import (
                                  Constants,
                                  fit_exponent,
                                  instance_constants,
                                  sampled_constants,
                                  t1_bound,
                                  t2_bound,
)
from adv_landscape.census import Census, census_summary, cluster_maxima, nonlinearity
from adv_landscape.certify import CLASSES, Certificate, certify
from adv_landscape.errors import InvalidInput
from adv_landscape.losses import LOSSES, Loss, get_loss, loss_from_callable
from adv_landscape.network import (
                                  Network,
                                  eps_from_gamma,
                                  forward,
                                  init_network,
                                  synthetic_input,
)
from adv_landscape.objective import grad, hess, hvp, objective_autodiff, value
from adv_landscape.weights import load_network, read_network, save_network

# The one-call census. Importing the submodule adv_landscape.census (above)
# set this attribute to that module; the function replaces it here, so import
# the module's names as ``from adv_landscape.census import ...``.
census = api.census

__all__ = [
    "ACTIVATIONS", "Activation", "get_activation", "INITS", "STEP_RULES", "PGAResult",
    "PGAState", "pga", "run_pga", "Constants", "fit_exponent", "instance_constants",
    "sampled_constants", "t1_bound", "t2_bound", "Census", "census_summary",
    "cluster_maxima", "nonlinearity", "CLASSES", "Certificate", "certify", "LOSSES", "Loss",
    "get_loss", "loss_from_callable", "Network", "eps_from_gamma", "forward",
    "init_network", "load_network", "save_network", "synthetic_input", "grad", "hess",
    "hvp", "objective_autodiff", "value", "census", "CensusResult", "Maximum",
    "synthetic_instance", "InvalidInput", "read_network",
]
