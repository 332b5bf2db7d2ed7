"""Imports every model module, so the metadata is complete for Alembic and the app."""

from . import db  # noqa: F401
from .candles import models as candles_models  # noqa: F401
from .instruments import models as instruments_models  # noqa: F401
from .ledger import models as ledger_models  # noqa: F401
from .orders import models as orders_models  # noqa: F401
from .positions import models as positions_models  # noqa: F401
from .replay import models as replay_models  # noqa: F401
from .reports import models as reports_models  # noqa: F401
from .sessions import models as sessions_models  # noqa: F401
