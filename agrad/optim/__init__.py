"""``agrad.optim``: SGD, RMSprop, Adagrad, Adam, AdamW and learning-rate schedulers.

Each optimizer's arithmetic is one pure function on raw arrays (``sgd_update``, ``adam_update``,
``rmsprop_update``, ``adagrad_update``), replaceable by a backend kernel of the same name.
"""

from agrad.optim import lr_scheduler
from agrad.optim.adam import Adam, AdamW, adam_update
from agrad.optim.optimizer import Optimizer
from agrad.optim.rmsprop import Adagrad, RMSprop, adagrad_update, rmsprop_update
from agrad.optim.sgd import SGD, sgd_update
