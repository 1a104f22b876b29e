"""OAuth 1.0a signing (RFC 5849 vector, and the sandbox's independent verifier), key-range paging, dates."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from connectors.netsuite import KeyRangePaginator, NetSuiteOAuth1, parse_ns_date, subsidiaries
from connectors.netsuite.auth import base_string, sign
from lettrage.errors import ConfigurationError
from sandbox.server import netsuite_api

RFC_PARAMS = [("file", "vacation.jpg"), ("size", "original"), ("oauth_consumer_key", "dpf43f3p2l4k3l03"),
              ("oauth_token", "nnch734d00sl2jdk"), ("oauth_signature_method", "HMAC-SHA1"),
              ("oauth_timestamp", "1191242096"), ("oauth_nonce", "kllo9940pd9333jh"), ("oauth_version", "1.0")]


def test_base_string_and_signature_match_rfc5849_example() -> None:
    base = base_string("GET", "http://photos.example.net/photos", RFC_PARAMS)
    assert base == (
        "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03"
        "%26oauth_nonce%3Dkllo9940pd9333jh%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1191242096"
        "%26oauth_token%3Dnnch734d00sl2jdk%26oauth_version%3D1.0%26size%3Doriginal")
    assert sign(base, "kd94hf93k423kf44", "pfkkdhi9sl3r4s00", digest="sha1") == "tR3+Ty81lMeYAr/Fid0kMTYa/WM="


def test_hmac_sha256_header_is_what_the_server_verifies() -> None:
    auth = NetSuiteOAuth1("TSTDRV1", "ck", "cs", "tk", "ts", clock=lambda: 1_700_000_000, nonce=lambda: "abc123")
    url = httpx.URL("https://tstdrv1.suitetalk.api.netsuite.com/services/rest/query/v1/suiteql?limit=5&offset=10")
    header = auth.header("POST", url)
    assert header.startswith('OAuth realm="TSTDRV1", ') and 'oauth_signature_method="HMAC-SHA256"' in header
    parsed = netsuite_api.parse_oauth_header(header)
    params = [(k, v) for k, v in parsed.items() if k.startswith("oauth_") and k != "oauth_signature"]
    params += [("limit", "5"), ("offset", "10")]
    expected = netsuite_api.signature("POST", "https://tstdrv1.suitetalk.api.netsuite.com/services/rest/query/v1/suiteql",
                                      params, "cs", "ts")
    assert parsed["oauth_signature"] == expected
    # pinned: a change in encoding or ordering would silently break every live call
    assert expected == sign(base_string("POST", "https://tstdrv1.suitetalk.api.netsuite.com/services/rest/query/v1/"
                                        "suiteql", params), "cs", "ts")
    assert netsuite_api.signature("POST", "https://x/y", params, "cs", "other") != expected


@pytest.mark.parametrize(
    ("bodies", "expected"),
    [
        ([{"items": [{"id": "1"}], "hasMore": False}], [(0, 0)]),
        ([{"items": [{"id": "3"}], "hasMore": True}, {"items": [{"id": "7"}], "hasMore": True},
          {"items": [{"id": "9"}], "hasMore": False}], [(0, 0), (10, 0), (0, 7)]),
    ],
    ids=["single-page", "restarts-after-last-key-at-cap"],
)
def test_key_range_paginator(bodies: list[dict[str, object]], expected: list[tuple[int, int]]) -> None:
    pager = KeyRangePaginator(limit=10, cap=20)
    seen = []
    for body in bodies:
        seen.append((pager.offset, pager.after))
        pager.update(body)
    assert seen == expected and pager.done


@pytest.mark.parametrize(("text", "expected"), [("2/5/2024", date(2024, 2, 5)), ("12/31/2025", date(2025, 12, 31)),
                                                ("2025-01-03", date(2025, 1, 3)), (None, None)],
                         ids=["m-d-yyyy", "two-digit-month", "iso", "null"])
def test_netsuite_dates(text: str | None, expected: date | None) -> None:
    assert parse_ns_date(text) == expected


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ("SELECT id FROM transaction WHERE type IN ('CustInvc') AND id > 1 ORDER BY id", ["2"]),
        ("SELECT id FROM transaction WHERE lastmodifieddate >= TO_TIMESTAMP('2025-01-02 00:00:00', "
         "'YYYY-MM-DD HH24:MI:SS') ORDER BY id", ["3"]),
        ("SELECT t.id, t.type FROM transaction t INNER JOIN transactionline tl ON tl.transaction = t.id "
         "WHERE tl.mainline = 'T' AND tl.subsidiary IN (2) AND t.id > 1 ORDER BY t.id", ["3"]),
        ("SELECT t.id FROM transaction AS t JOIN transactionline AS tl ON t.id = tl.transaction AND tl.mainline = 'T' "
         "WHERE tl.subsidiary = 1 ORDER BY t.id", ["1", "2"]),
    ],
    ids=["type-and-key", "modified-since", "oneworld-main-line", "oneworld-on-conditions"],
)
def test_suiteql_subset(query: str, ids: list[str]) -> None:
    rows = {"transaction": [
        {"id": "1", "type": "CustInvc", "lastmodifieddate": "2025-01-01T10:00:00Z"},
        {"id": "2", "type": "CustInvc", "lastmodifieddate": "2025-01-01T11:00:00Z"},
        {"id": "3", "type": "CustPymt", "lastmodifieddate": "2025-01-02T09:00:00Z"}],
        "transactionline": [
        {"id": "0", "transaction": "1", "mainline": "T", "subsidiary": "1"},
        {"id": "1", "transaction": "1", "mainline": "F", "subsidiary": "2"},
        {"id": "0", "transaction": "2", "mainline": "T", "subsidiary": "1"},
        {"id": "0", "transaction": "3", "mainline": "T", "subsidiary": "2"}]}
    assert [r["id"] for r in netsuite_api.run_query(query, rows)] == ids


def test_suiteql_refuses_what_it_does_not_understand() -> None:
    with pytest.raises(netsuite_api.SuiteQLError, match="Unsupported condition"):
        netsuite_api.run_query("SELECT id FROM transaction WHERE id LIKE '1%'", {"transaction": []})


@pytest.mark.parametrize(("value", "ids"), [(None, ()), (3, ("3",)), ("3", ("3",)), ([3, "4"], ("3", "4")),
                                            ("3, 4", ("3", "4"))])
def test_subsidiary_setting_reads_as_internal_ids(value: object, ids: tuple[str, ...]) -> None:
    assert subsidiaries(value) == ids  # type: ignore[arg-type]


def test_a_subsidiary_named_instead_of_numbered_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"internal ids \(numbers\), found \['Canada'\]"):
        subsidiaries("Canada")
