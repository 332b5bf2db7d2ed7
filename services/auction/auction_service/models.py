"""Imports every model module, so the metadata is complete for Alembic and the app."""

from . import db  # noqa: F401
from .bills import models as bills_models  # noqa: F401
from .charges import models as charges_models  # noqa: F401
from .invoices import models as invoices_models  # noqa: F401
from .items import models as items_models  # noqa: F401
from .ledger import models as ledger_models  # noqa: F401
from .masters import models as masters_models  # noqa: F401
from .sessions import models as sessions_models  # noqa: F401
from .verification import models as verification_models  # noqa: F401
