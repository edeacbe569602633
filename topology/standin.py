"""`python -m topology.standin PORT`: the project's Twilio stand-in in its own process, as
the real Twilio is outside every app process."""

from __future__ import annotations

import sys

import uvicorn

from clientcompass.twilio_standin import create_standin


def main(argv: list[str]) -> int:
    port = int(argv[0])
    url = f"http://127.0.0.1:{port}"
    app = create_standin(auto_progress=True, public_base_url=url)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
