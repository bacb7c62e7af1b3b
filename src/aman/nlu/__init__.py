"""aman.nlu: Indonesian/English intent classification and entity extraction for the bots.

Typical use::

    from aman.nlu import load_bot_nlu, resolve_bot_dir
    nlu = load_bot_nlu(resolve_bot_dir("bank"))
    nlu.predict("sldo brp").intent            # "check_balance"
    nlu.parse("tf 100rb besok", now=now)      # intent + entities
"""

from aman.nlu.classifier import ClassifierConfig, IntentClassifier, Prediction
from aman.nlu.data import FALLBACK, BotNluData, resolve_bot_dir
from aman.nlu.entities import Entity, EntityKind, extract_entities, mask_account
from aman.nlu.errors import BotNotFoundError, NluDataError, NluError, NluInputError
from aman.nlu.model import NluModel, NluResult, load_bot_nlu
from aman.nlu.normalize import normalize

__all__ = [
    "FALLBACK",
    "BotNluData",
    "BotNotFoundError",
    "ClassifierConfig",
    "Entity",
    "EntityKind",
    "IntentClassifier",
    "NluDataError",
    "NluError",
    "NluInputError",
    "NluModel",
    "NluResult",
    "Prediction",
    "extract_entities",
    "load_bot_nlu",
    "mask_account",
    "normalize",
    "resolve_bot_dir",
]
