#!/usr/bin/env python3
"""Checks that the project's includes point one way (docs/architecture.md).

Every source file under parser/, store/ and engine/ belongs to a room; a room
may include only the rooms listed for it below. io_uring (liburing.h, and
engine/uring.h, the shard's tags) stays out of the parser, the store, the
request pipeline (engine/sip/), authentication (engine/auth/), group
commit and message capture (engine/trace/). Exits 1 and names every include
that breaks a rule.

Usage: check_layering.py [REPO_ROOT]
       check_layering.py --self-test   (a small tree with known violations)
"""
import pathlib
import re
import sys
import tempfile

# Room of a path (relative to the repository root), most specific first.
ROOMS = [
    ("engine/durability/group_commit.", "group_commit"),
    ("engine/durability/commit_batch.", "group_commit"),
    ("engine/durability/", "durability"),
    ("engine/cluster/", "cluster"),
    ("engine/transport/", "transport"),
    ("engine/admin/", "admin"),
    ("engine/trace/", "trace"),
    ("engine/auth/", "auth"),
    ("engine/sip/", "sip"),
    ("engine/shard.", "loop"),
    ("engine/cluster_requests.", "loop"),
    ("engine/engine.", "loop"),
    ("engine/locusd.", "loop"),
    ("engine/", "base"),
    ("store/", "store"),
    ("parser/", "parser"),
]

# What each room may include (itself always).
ALLOWED = {
    "parser": set(),
    "store": {"parser"},
    "base": {"parser", "store"},
    "auth": {"base", "parser", "store"},
    "group_commit": {"base", "parser", "store"},
    "sip": {"auth", "group_commit", "cluster", "base", "parser", "store"},
    "durability": {"group_commit", "base", "parser", "store"},
    "cluster": {"base", "parser", "store"},
    "transport": {"cluster", "base", "parser", "store"},
    "trace": {"base", "parser", "store"},
    "admin": {"auth", "durability", "group_commit", "trace", "transport", "base", "parser",
              "store"},
    "loop": {"admin", "durability", "group_commit", "sip", "transport", "trace", "auth", "cluster", "base",
             "parser", "store"},
}

# Rooms that must not know io_uring.
NO_URING = {"parser", "store", "sip", "auth", "group_commit", "trace", "cluster"}
URING_INCLUDES = {"liburing.h", "engine/uring.h"}

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)


def room_of(path):
    for prefix, room in ROOMS:
        if path.startswith(prefix):
            return room
    return None


def check(root):
    problems = []
    files = 0
    for top in ("parser", "store", "engine"):
        for path in sorted((root / top).rglob("*")):
            if path.suffix not in (".h", ".cc"):
                continue
            rel = path.relative_to(root).as_posix()
            room = room_of(rel)
            files += 1
            for target in INCLUDE.findall(path.read_text(encoding="utf-8")):
                if target in URING_INCLUDES and room in NO_URING:
                    problems.append(f"{rel}: includes {target}, but {room} must not know io_uring")
                    continue
                target_room = room_of(target)
                if target_room is None or target_room == room:
                    continue  # a library, or the same room
                if target_room not in ALLOWED[room]:
                    problems.append(f"{rel}: {room} includes {target} ({target_room})")
    return files, problems


def self_test():
    """The checker finds each kind of violation, and passes a clean tree."""
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        files = {
            "parser/p.h": "",
            "store/s.h": '#include "parser/p.h"\n',
            "engine/config.h": '#include "store/s.h"\n',
            "engine/sip/h.cc": '#include "engine/config.h"\n#include <liburing.h>\n',
            "engine/transport/t.cc": '#include "engine/sip/h.h"\n',
            "engine/config.cc": '#include "engine/admin/a.h"\n',
            "engine/shard.cc": '#include "engine/sip/h.h"\n#include "engine/uring.h"\n',
            "engine/trace/t.cc": '#include "engine/uring.h"\n#include "engine/admin/a.h"\n',
        }
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        _, problems = check(root)
        expected = ["engine/config.cc: base includes engine/admin/a.h (admin)",
                    "engine/sip/h.cc: includes liburing.h, but sip must not know io_uring",
                    "engine/trace/t.cc: includes engine/uring.h, but trace must not know io_uring",
                    "engine/trace/t.cc: trace includes engine/admin/a.h (admin)",
                    "engine/transport/t.cc: transport includes engine/sip/h.h (sip)"]
        if sorted(problems) != expected:
            print("self-test failed:", problems)
            return 1
    print("self-test: %d violations found, as planted" % len(expected))
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    files, problems = check(root)
    for p in problems:
        print(p)
    print(f"{files} files checked, {len(problems)} includes against the layering")
    return 1 if problems or files == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
