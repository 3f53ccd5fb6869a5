"""`sentinel db url` and every message that shows a connection string: no
password in any of the forms libpq accepts."""

from __future__ import annotations

import pytest

from sentinel.dsn import mask


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("postgresql://app:s3cret@db:5432/x", "postgresql://app:***@db:5432/x"),
        ("postgres://app:s3cret@db/x", "postgres://app:***@db/x"),
        ("postgresql://app:s3%40cr@t@db/x", "postgresql://app:***@db/x"),
        ("postgresql://app:s3cret@h1:5432,h2:5433/x", "postgresql://app:***@h1:5432,h2:5433/x"),
        ("postgresql://app@db/x?password=s3cret", "postgresql://app@db/x?password=***"),
        (
            "postgresql://db/x?sslmode=require&password=s3cret",
            "postgresql://db/x?sslmode=require&password=***",
        ),
        ("postgresql://db/x?PASSWORD=s3cret&a=b", "postgresql://db/x?PASSWORD=***&a=b"),
        ("postgresql://db/x?sslpassword=s3cret", "postgresql://db/x?sslpassword=***"),
        ("host=db password=s3cret dbname=x", "host=db password=*** dbname=x"),
        ("password=s3cret", "password=***"),
        ("host=db password = s3cret", "host=db password = ***"),
        ("host=db password='s3 cret' dbname=x", "host=db password=*** dbname=x"),
        (r"host=db password='s3\' cret' dbname=x", "host=db password=*** dbname=x"),
        ("host=db sslpassword=s3cret", "host=db sslpassword=***"),
    ],
)
def test_every_form_of_password_is_masked(given: str, shown: str) -> None:
    assert mask(given) == shown


@pytest.mark.parametrize(
    "plain", ["postgresql://app@db:5432/x", "host=/tmp dbname=x user=app", "postgresql:///x"]
)
def test_a_string_without_a_password_is_unchanged(plain: str) -> None:
    assert mask(plain) == plain
