"""The ``dxapi`` command line: ``python -m dxapi.cli`` or the ``dxapi`` console script.

``__main__`` parses arguments; each command is one module; the work is done by the SDK
(``dxapi._bulk``, ``dxapi._export``, ``dxapi._query_runs``).
"""
