"""Converts uap-core's regexes.yaml to the JSON Sleuth compiles in (user-agent and OS parsers;
the device parsers are left out: Sleuth classes agents, it does not name handsets).

    npm pack uap-core@VERSION && tar xzf uap-core-VERSION.tgz
    python3 convert.py package/regexes.yaml > regexes.json

Needs PyYAML. The JSON keeps every field ua-parser (the Rust crate) reads, in uap-core's order."""
import json
import sys

import yaml

with open(sys.argv[1], encoding="utf-8") as f:
    data = yaml.safe_load(f)
out = {"user_agent_parsers": data["user_agent_parsers"], "os_parsers": data["os_parsers"], "device_parsers": []}
json.dump(out, sys.stdout, ensure_ascii=False, indent=0, sort_keys=False)
sys.stdout.write("\n")
