from servicekit.migrations import run_env
from trading_service import models  # noqa: F401  (registers every table on the metadata)
from trading_service.config import get_settings
from trading_service.db import metadata

run_env(metadata, get_settings().database_url)
