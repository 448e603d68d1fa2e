"""Benchmark: what the portal's test fixtures cost per test, in one process, as a test run sees them.

    python bench/fixture_costs.py [--runs 25]

Medians after a warm-up: `make_app` (a portal on a fresh copy of the seeded simulator), a sign-in through
the login form and onboarding, and the tests' `auth.sign_in` shortcut (where tests/conftest.py has it).
Run it in an older checkout of the repository to compare: it uses whatever that tree's fixtures are.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tests.conftest as fixtures  # noqa: E402


def release() -> None:
    built = getattr(fixtures, "_BUILT", None)
    while built:
        fixtures.release_simulator(built.pop().extensions["simulator_app"].extensions["sir_simulator"])


def median_ms(step, runs: int, warm: int = 3) -> float:
    times = []
    for i in range(runs + warm):
        app = fixtures.make_app(Path(tempfile.mkdtemp()))
        auth = fixtures.AuthActions(app.test_client())
        started = time.perf_counter()
        step(auth)
        if i >= warm:
            times.append(time.perf_counter() - started)
        del app, auth
        release()
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=25)
    runs = parser.parse_args().runs
    if hasattr(fixtures, "pytest_collection_finish"):
        fixtures.pytest_collection_finish(None)  # the garbage collector settings a test run has
    through_the_forms = getattr(fixtures.AuthActions, "sign_in_through_the_forms", fixtures.AuthActions.sign_in)
    print(f"make_app                     {median_ms(lambda auth: fixtures.make_app(Path(tempfile.mkdtemp())), runs):6.1f} ms")
    print(f"sign-in through the forms    {median_ms(lambda auth: through_the_forms(auth, 'acme'), runs):6.1f} ms")
    if hasattr(fixtures.AuthActions, "sign_in_through_the_forms"):
        print(f"auth.sign_in (shortcut)      {median_ms(lambda auth: auth.sign_in('acme'), runs):6.1f} ms")


if __name__ == "__main__":
    main()
