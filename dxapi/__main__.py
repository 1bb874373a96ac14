"""``python -m dxapi``: the same command line as ``dxapi``."""

from dxapi.cli.__main__ import main

if __name__ == "__main__":
    raise SystemExit(main())
