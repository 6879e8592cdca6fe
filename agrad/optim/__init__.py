"""``agrad.optim``: PyTorch's optimizers (SGD, RMSprop, Adagrad, Adadelta, Adam, AdamW, Adamax,
NAdam, RAdam, L-BFGS) and learning-rate schedulers.

Each per-parameter optimizer's arithmetic is one pure function on raw arrays (``sgd_update``,
``adam_update``, ``nadam_update``...), replaceable by a backend kernel of the same name. L-BFGS
works on all parameters at once and branches on the loss, so it is a loop on the host instead.
"""

from agrad.optim import lr_scheduler
from agrad.optim.adadelta import Adadelta, adadelta_update
from agrad.optim.adam import Adam, AdamW, adam_update
from agrad.optim.adamax import Adamax, adamax_update
from agrad.optim.lbfgs import LBFGS
from agrad.optim.nadam import NAdam, nadam_update
from agrad.optim.optimizer import Optimizer
from agrad.optim.radam import RAdam, radam_update
from agrad.optim.rmsprop import Adagrad, RMSprop, adagrad_update, rmsprop_update
from agrad.optim.sgd import SGD, sgd_update
