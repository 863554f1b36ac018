"""By hand: `python -m tests.infra up [PART...]`, `... env`, `... down`.

`up` starts the parts (all by default) under ~/.cache/appmod/dev and writes `env`, a file of
exports pointing clients at them (`source ~/.cache/appmod/dev/env`); `down` stops every recorded pid.
"""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path

from tests.infra.environment import PART_NAMES, Environment
from tests.infra.part import Part

ROOT = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "appmod" / "dev"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.infra")
    parser.add_argument("action", choices=["up", "down", "env"])
    parser.add_argument("parts", nargs="*", default=list(PART_NAMES), help=", ".join(PART_NAMES))
    args = parser.parse_args()
    env_file = ROOT / "env"
    if args.action == "up":
        environment = Environment(ROOT)
        for name in args.parts:
            environment.get(name)
        env = environment.env()
        if "kube" in environment.started:
            env["APPMOD_TEST_ADMIN_TOKEN"] = environment.started["kube"].admin_token
        env_file.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()))
        print(f"started {', '.join(environment.started)}; run: source {env_file}")
    elif args.action == "down":
        for folder in sorted(p for p in ROOT.glob("*") if (p / "pids").exists()):
            Part.recorded_in(folder).stop()
            print(f"stopped {folder.name}")
        env_file.unlink(missing_ok=True)
    else:
        print(env_file.read_text() if env_file.exists() else "# nothing is up", end="")


if __name__ == "__main__":
    main()
