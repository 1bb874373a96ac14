"""The package version, and how every request says who is calling."""

from collections.abc import Mapping
from types import MappingProxyType

__version__ = "0.1.0"

#: Sent with every request to DX, as DX's own CLI sends ``User-Agent: dx-cli/<version>``,
#: ``X-Client-Type: dx-cli`` and ``X-Client-Version: <version>``, so DX can tell its callers
#: apart and support them. A call's ``extra_headers`` may replace them.
USER_AGENT = f"dxapi/{__version__}"
CLIENT_HEADERS: Mapping[str, str] = MappingProxyType(
    {"User-Agent": USER_AGENT, "X-Client-Type": "dxapi", "X-Client-Version": __version__}
)
