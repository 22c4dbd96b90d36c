"""Builds a Python plugin project into a component, in one command:

    python3 sdk/python/build.py [--project DIR] [--out FILE]

It reads the plugin's kind from `plugin.toml`, writes the bindings of that
kind's world from the WIT into `sdk/python/bindings/` (for editors and type
checkers; never edit them), and builds `app.py` with componentize-py
(`pip install componentize-py`) into `plugin.wasm`. Portitor's own tests
also pass `--kind`, `--wit` and `--bindings` (a directory of their own, as
builds run side by side)."""

import argparse
import pathlib
import shutil
import subprocess
import sys
import tomllib


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", default=".", help="the project directory (holds plugin.toml and app.py)")
    parser.add_argument("--out", default=None, help="the component to write (default: <project>/plugin.wasm)")
    parser.add_argument("--kind", default=None, help="the plugin's kind (default: plugin.toml's)")
    parser.add_argument("--wit", default=None, help="the WIT directory (default: the SDK's ../wit)")
    parser.add_argument("--bindings", default=None, help="where to write the bindings (default: the SDK's bindings/)")
    args = parser.parse_args()
    project = pathlib.Path(args.project).resolve()
    sdk = pathlib.Path(__file__).resolve().parent
    wit = pathlib.Path(args.wit).resolve() if args.wit else sdk.parent / "wit"
    out = pathlib.Path(args.out).resolve() if args.out else project / "plugin.wasm"

    kind = args.kind or tomllib.loads((project / "plugin.toml").read_text())["kind"]
    tool = shutil.which("componentize-py")
    command = [tool] if tool else [sys.executable, "-m", "componentize_py"]
    common = command + ["-d", str(wit), "-w", kind]

    bindings = pathlib.Path(args.bindings).resolve() if args.bindings else sdk / "bindings"
    shutil.rmtree(bindings, ignore_errors=True)
    subprocess.run(common + ["bindings", str(bindings)], check=True)
    subprocess.run(common + ["componentize", "-p", str(project), "-p", str(sdk), "app", "-o", str(out)],
                   check=True, stdout=subprocess.DEVNULL)
    print(f"built {out} ({kind})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
