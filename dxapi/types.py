"""The result shapes of both APIs (frozen attrs classes), for annotations in user code.

``from dxapi.types import Entity``. Per-method result classes live with their namespaces
(``dxapi._generated.web.catalog.CatalogEntitiesListResult``) and are what the methods return.
"""

from ._generated.shapes import *  # noqa: F403
from ._generated.shapes import __all__ as __all__
