#!/usr/bin/env python3
"""with_mariadb — run a unit test binary with a private MariaDB server
(tests/e2e/mariadb.py): starts mariadbd, creates a database, exports its
URI as SALESFLOW_TEST_MYSQL_URI, runs the command, stops the server.
Without mariadbd the command runs without the variable (its MySQL cases
are then skipped, saying why). The command's exit status is this one's.

    tests/unit/with_mariadb.py build/tests/test_store_contract
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import mariadb  # noqa: E402


def main():
    env = dict(os.environ, SALESFLOW_TEST_MYSQL_WRAPPED="1")
    if not mariadb.available():
        env["SALESFLOW_TEST_MYSQL_SKIP"] = "mariadbd not installed"
        return subprocess.call(sys.argv[1:], env=env)
    db = mariadb.MariaDB()
    db.start()
    try:
        db.create_db("contract_db")
        env["SALESFLOW_TEST_MYSQL_URI"] = db.uri("contract_db", tcp=False)
        return subprocess.call(sys.argv[1:], env=env)
    finally:
        db.stop()


if __name__ == "__main__":
    sys.exit(main())
