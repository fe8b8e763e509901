"""Affiliation mappings: parsing (with one clear error per bad line), overrides, and matching
by longest domain suffix and ``since`` date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from shared.affiliations import (
    DEFAULT,
    USER,
    AffiliationsError,
    Mapping,
    Matcher,
    default_mappings,
    email_domain,
    merge,
    parse_mappings,
)


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def test_email_domain() -> None:
    assert email_domain("Ann@Mail.Corp.RedHat.COM") == "mail.corp.redhat.com"
    assert email_domain("odd@name@example.org.") == "example.org"  # the last @ separates
    assert email_domain("49699333+dependabot[bot]@users.noreply.github.com") == "users.noreply.github.com"
    assert [email_domain(e) for e in (None, "", "no-at-sign", "trailing@", "dots@...")] == [None] * 5
    # Only ASCII letters are folded: the SQL that re-applies mappings folds exactly these.
    assert email_domain("x@ÄB.example") == "Äb.example"


def test_parse_format() -> None:
    text = """# comment
domain,organization,since

Mail.RedHat.com. , Red Hat
gmail.com,
example.com,"Example, Inc.",2021-04-01
example.com,Example Old
other.org,Other,
"""
    assert parse_mappings(text, USER) == (
        Mapping("mail.redhat.com", None, "Red Hat", USER),
        Mapping("gmail.com", None, None, USER),
        Mapping("example.com", date(2021, 4, 1), "Example, Inc.", USER),
        Mapping("example.com", None, "Example Old", USER),
        Mapping("other.org", None, "Other", USER),
    )
    assert parse_mappings("") == ()


@pytest.mark.parametrize(("text", "message"), [
    ("redhat.com", "line 1: expected domain,organization[,since], got 1 fields"),
    ("a.com,A,2020-01-01,extra", "line 1: expected domain,organization[,since], got 4 fields"),
    ("# c\n\nann@redhat.com,Red Hat", "line 3: 'ann@redhat.com' is an email address; give its domain"),
    ("bad_domain.com,X", "line 1: 'bad_domain.com' is not a domain name"),
    ("-a.com,X", "line 1: '-a.com' is not a domain name"),
    (",X", "line 1: '' is not a domain name"),
    ("bücher.de,X", "line 1: 'bücher.de' is not ASCII; give the domain in its xn-- form"),
    ("a.com,A,01/02/2020", "line 1: since must be a date like 2021-04-01, got '01/02/2020'"),
    ("a.com,A,2021-02-30", "line 1: since must be a date like 2021-04-01, got '2021-02-30'"),
    ("a.com,A,1969-12-31", "line 1: since must be 1970-01-01 or later, got 1969-12-31"),
    ("a.com,A\nb.com,B\nA.com,C", "line 3: a.com is already mapped on line 1"),
    ("a.com,A,2020-01-01\na.com,B,2020-01-01", "line 2: a.com since 2020-01-01 is already mapped on line 1"),
    ("a.com,A\tB", "line 1: the organisation must be at most 200 printable characters"),
    ("a.com," + "x" * 201, "line 1: the organisation must be at most 200 printable characters"),
])
def test_bad_lines_are_named(text: str, message: str) -> None:
    with pytest.raises(AffiliationsError) as caught:
        parse_mappings(text)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def test_longest_suffix_wins() -> None:
    m = Matcher(parse_mappings("redhat.com,Red Hat\ncorp.redhat.com,Red Hat Corp\ngithub.com,GitHub\n"
                               "users.noreply.github.com,"))
    assert m.current("ann@mail.corp.redhat.com") == "Red Hat Corp"
    assert m.current("ann@mail.redhat.com") == "Red Hat"
    assert m.current("ann@redhat.com") == "Red Hat"
    assert m.current("ann@notredhat.com") is None  # a suffix of labels, not of characters
    assert m.current("ann@com") is None
    assert m.current("1+ann@users.noreply.github.com") is None  # "no organisation" beats github.com
    assert m.current("noreply@GitHub.com") == "GitHub"
    assert m.at("ann@mail.corp.redhat.com", at("2020-01-01")) == "Red Hat Corp"


def test_since_dates() -> None:
    m = Matcher(parse_mappings("example.com,Old\nexample.com,Middle,2020-01-01\nexample.com,New,2022-06-15\n"
                               "lab.example.com,Lab,2021-01-01\n"))
    assert m.at("a@example.com", at("2019-12-31")) == "Old"
    assert m.at("a@example.com", at("2020-01-01", hour=0)) == "Middle"  # from that date on
    assert m.at("a@example.com", at("2022-06-14")) == "Middle"
    assert m.at("a@example.com", at("2022-06-15")) == "New"
    assert m.current("a@example.com") == "New"
    # A sub-domain whose only mapping starts later falls through to its parent before then.
    assert m.at("a@lab.example.com", at("2020-06-01")) == "Middle"
    assert m.at("a@lab.example.com", at("2021-06-01")) == "Lab"
    assert m.current("a@lab.example.com") == "Lab"
    # Dates are compared in UTC: 23:30 on 2019-12-31 at UTC-5 is 2020-01-01 in UTC.
    assert m.at("a@example.com", datetime(2019, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5)))) == "Middle"
    assert m.at("a@example.com", datetime(2020, 1, 1, 0, 30)) == "Middle"  # naive means UTC
    # A commit without a readable date gets only undated mappings.
    assert m.at("a@example.com", None) == "Old"
    assert m.at("a@lab.example.com", None) == "Old"
    only_dated = Matcher(parse_mappings("x.org,X,2020-01-01"))
    assert only_dated.at("a@x.org", at("2019-01-01")) is None and only_dated.at("a@x.org", None) is None


def test_no_email_no_affiliation() -> None:
    m = Matcher(parse_mappings("example.com,Example"))
    assert m.at(None, at("2020-01-01")) is None and m.current("") is None and m.current("example.com") is None


def test_user_file_replaces_every_default_line_of_a_domain() -> None:
    defaults = parse_mappings("redhat.com,Red Hat\nexample.com,Ex,2020-01-01\nexample.com,Ex Old\ngmail.com,", DEFAULT)
    user = parse_mappings("example.com,Mine\ngmail.com,Gmail Fans,2021-01-01", USER)
    merged = merge(defaults, user)
    assert merged == (Mapping("example.com", None, "Mine", USER), Mapping("gmail.com", date(2021, 1, 1), "Gmail Fans", USER),
                      Mapping("redhat.com", None, "Red Hat", DEFAULT))
    m = Matcher(merged)
    assert m.at("a@example.com", at("2021-01-01")) == "Mine"
    assert m.at("a@gmail.com", at("2020-01-01")) is None  # the default "no organisation" line is gone too
    assert m.at("a@gmail.com", at("2021-01-01")) == "Gmail Fans"
    assert merge(defaults, ()) == tuple(sorted(defaults, key=Mapping.key))


def test_shipped_defaults() -> None:
    shipped = default_mappings()
    assert len(shipped) >= 300
    assert all(m.source == DEFAULT for m in shipped)
    m = Matcher(shipped)
    expected = {
        "ann@redhat.com": "Red Hat", "ann@mail.corp.redhat.com": "Red Hat", "ann@google.com": "Google",
        "ann@microsoft.com": "Microsoft", "ann@linux.microsoft.com": "Microsoft", "ann@ibm.com": "IBM",
        "ann@us.ibm.com": "IBM", "ann@intel.com": "Intel", "ann@linux.intel.com": "Intel",
        "ann@apache.org": "Apache Software Foundation", "ann@yandex-team.ru": "Yandex",
        "ann@gmail.com": None, "ann@outlook.com": None, "ann@hotmail.com": None, "ann@yandex.ru": None,
        "1+ann@users.noreply.github.com": None, "ann@qq.com": None, "ann@unknown.example": None,
    }
    assert {email: m.current(email) for email in expected} == expected
    # Public providers are listed explicitly as "no organisation", not merely absent.
    none = {mp.domain for mp in shipped if mp.organization is None}
    assert {"gmail.com", "outlook.com", "users.noreply.github.com", "icloud.com", "protonmail.com"} <= none
