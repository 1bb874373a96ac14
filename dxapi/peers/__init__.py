"""Clients of the data platforms DX users work beside, generated from ``registry/peers/``.

::

    async with dxapi.peers.SigmaClient(token, base_url="https://aws-api.sigmacomputing.com") as s:
        async for team in s.teams.list(limit=50):
            ...

Same runtime as :class:`dxapi.Client`: limiter, retries, typed errors, pagination and the
``extra_query``/``extra_body``/``extra_headers`` escape hatches on every method.
"""

from __future__ import annotations

from .._generated.peers.datagalaxy import DatagalaxyAPI
from .._generated.peers.datalinx import DatalinxAPI
from .._generated.peers.sigma import SigmaAPI
from ._client import PeerClient

__all__ = ["DataGalaxyClient", "DatalinxClient", "PeerClient", "SigmaClient"]


class SigmaClient(PeerClient, SigmaAPI):
    """Sigma's REST API v2 (``https://<cloud>-api.sigmacomputing.com``; paths start ``/v2``).

    ``token`` defaults to ``$SIGMA_API_TOKEN`` (an OAuth access token), ``base_url`` to
    ``$SIGMA_BASE_URL``.
    """

    _api = "sigma"
    _token_env = "SIGMA_API_TOKEN"
    _url_env = "SIGMA_BASE_URL"


class DatalinxClient(PeerClient, DatalinxAPI):
    """Datalinx AI's REST API (``https://<instance>.datalinx.ai/api``).

    ``token`` defaults to ``$DATALINX_API_TOKEN``: a JWT (``auth="bearer"``, the default) or a
    service account's API key (``auth="X-API-Key"``). ``base_url`` defaults to
    ``$DATALINX_BASE_URL``. The default ``rate_limit`` is the Free tier's 60 per minute; the
    client also holds back whenever an answer's ``X-RateLimit-Remaining`` reaches 0, until its
    ``X-RateLimit-Reset``.
    """

    _api = "datalinx"
    _token_env = "DATALINX_API_TOKEN"
    _url_env = "DATALINX_BASE_URL"


class DataGalaxyClient(PeerClient, DatagalaxyAPI):
    """DataGalaxy's API v2: ``base_url`` is your environment's API base URL (host and base
    path, shown on its "DataGalaxy API" page; defaults to ``$DATAGALAXY_BASE_URL``).

    ``token`` (default ``$DATAGALAXY_API_TOKEN``) is an integration or personal access token.
    """

    _api = "datagalaxy"
    _token_env = "DATAGALAXY_API_TOKEN"
    _url_env = "DATAGALAXY_BASE_URL"
