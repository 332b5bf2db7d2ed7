from auction_service import models  # noqa: F401  (registers every table on the metadata)
from auction_service.config import get_settings
from auction_service.db import metadata
from servicekit.migrations import run_env

run_env(metadata, get_settings().database_url)
