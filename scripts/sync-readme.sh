#!/usr/bin/env bash
# Regenerates the README's generated parts: the key table (from the
# keymap) and the example configuration (config.example.toml). The tests
# in tests/readme.rs fail until this has been run after changing either.
set -euo pipefail
cd "$(dirname "$0")/.."
keys="$(cargo run -q -- keys --markdown)"
KEYS="$keys" python3 - <<'PY'
import os, re
readme = open("README.md").read()
keys = os.environ["KEYS"].rstrip("\n") + "\n"
example = open("config.example.toml").read()
readme = re.sub(r"(<!-- keys:start -->\n).*?(<!-- keys:end -->)",
                lambda m: m.group(1) + keys + m.group(2), readme, flags=re.S)
readme = re.sub(r"(<!-- example-config:start -->\n```toml\n).*?(```\n<!-- example-config:end -->)",
                lambda m: m.group(1) + example + m.group(2), readme, flags=re.S)
open("README.md", "w").write(readme)
PY
