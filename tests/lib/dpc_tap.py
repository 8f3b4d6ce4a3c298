# SPDX-License-Identifier: BSD-3-Clause
"""TAP output for dpcap's Python tests (run with /usr/bin/python3).

    from dpc_tap import Tap
    t = Tap()
    t.check(cond, "what")          # ok N - what / not ok N - what
    t.eq(got, want, "what")        # prints both sides on failure
    t.skip("why")                  # ok N - # SKIP why
    sys.exit(t.done())             # prints the plan, 0 only if all passed

meson runs these with protocol 'tap'; scripts/tap-summary counts each line.
"""
import sys


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def check(self, cond, what):
        self.n += 1
        print(f"{'ok' if cond else 'not ok'} {self.n} - {what}", flush=True)
        if not cond:
            self.failed += 1
        return bool(cond)

    def eq(self, got, want, what):
        ok = self.check(got == want, what)
        if not ok:
            print(f"#   got {got!r}, want {want!r}", flush=True)
        return ok

    def skip(self, why):
        self.n += 1
        print(f"ok {self.n} - # SKIP {why}", flush=True)

    def diag(self, msg):
        for line in str(msg).splitlines():
            print(f"# {line}", flush=True)

    def done(self):
        print(f"1..{self.n}", flush=True)
        return 1 if self.failed else 0
