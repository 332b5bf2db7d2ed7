"""Issue 11 item 4: the append-only, hash-chained money journal and its views.

Amounts are computed by hand in each test. Sign convention: + is what the agent owes the
farmer (a bill's net), - a payment or a void's reversal; a farmer's balance is Σ amount.
Tampering: the test database user is a superuser, so a test alters a row inside a transaction
with `SET LOCAL session_replication_role = replica`, which skips the append-only trigger.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from .conftest import property_settings

GENESIS = "0" * 64
D = Decimal


_days = itertools.count()


def _next_date() -> str:
    """A date of its own per session: one ACTIVE session per commissioner per date."""
    day = dt.date(2020, 1, 1) + dt.timedelta(days=next(_days))
    return f"{day}T10:00:00Z"


async def _bill(api: Any, user: int, m: dict[str, str], prices: list[str], **body: Any) -> Any:
    s = await api.session(user, _next_date())
    for price in prices:
        await api.item(s["id"], m, user_id=user, final_price=float(price), quantity=1)
    return await api.ok(
        "POST",
        f"/api/sessions/{s['id']}/bills",
        user,
        201,
        json={"farmer_id": m["farmer_id"], **body},
    )


async def _pay(api: Any, user: int, bill_id: str, amount: str) -> Any:
    return await api.ok(
        "POST",
        f"/api/bills/{bill_id}/payments",
        user,
        201,
        json={"amount": amount, "method": "CASH"},
    )


async def _tamper(auction_app: Any, sql: str, **params: Any) -> None:
    async with auction_app.state.db.engine.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(text(sql), params)


async def _farmer(api: Any, user: int, name: str) -> str:
    farmer = await api.ok("POST", "/api/farmers", user, 201, json={"name": name})
    return str(farmer["id"])


async def test_verify_succeeds_on_empty_and_on_bill_payment_void(api: Any) -> None:
    """An empty journal is valid (head = 64 zeros); after bill, payment and a void of another
    bill the chain has 4 entries, each linked to the previous, head = the last hash."""
    empty = await api.ok("GET", "/api/ledger/verify", 11)
    assert empty == {
        "valid": True,
        "entries": 0,
        "head_hash": GENESIS,
        "first_broken_seq": None,
        "reason": None,
    }
    m = await api.masters(11)
    bill = await _bill(api, 11, m, ["100.00"])
    await _pay(api, 11, bill["id"], "10.00")
    other = await _bill(api, 11, m, ["50.00"])
    await api.ok("DELETE", f"/api/bills/{other['id']}", 11)
    result = await api.ok("GET", "/api/ledger/verify", 11)
    entries = await api.ok("GET", f"/api/farmers/{m['farmer_id']}/ledger", 11)
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    assert [e["kind"] for e in entries] == ["BILL", "PAYMENT", "BILL", "BILL_VOID"]
    assert entries[0]["prev_hash"] == GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(entries))
    assert result == {
        "valid": True,
        "entries": 4,
        "head_hash": entries[-1]["hash"],
        "first_broken_seq": None,
        "reason": None,
    }


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_entries SET amount = amount + 1 WHERE commissioner_id = 12 AND seq = 2",
        "UPDATE ledger_entries SET payload = replace(payload, 'CASH', 'UPI') "
        "WHERE commissioner_id = 12 AND seq = 2",
        "UPDATE ledger_entries SET at = at + interval '1 second' "
        "WHERE commissioner_id = 12 AND seq = 2",
        "UPDATE ledger_entries SET party_id = gen_random_uuid() "
        "WHERE commissioner_id = 12 AND seq = 2",
        "DELETE FROM ledger_entries WHERE commissioner_id = 12 AND seq = 2",
    ],
    ids=["amount", "payload", "at", "party", "deleted-middle"],
)
async def test_verify_fails_after_a_row_is_altered_in_the_database(
    api: Any, auction_app: Any, sql: str
) -> None:
    """Any change to entry 2 (or its removal) makes verify invalid with first_broken_seq 2."""
    m = await api.masters(12)
    bill = await _bill(api, 12, m, ["100.00"])
    await _pay(api, 12, bill["id"], "10.00")
    await _pay(api, 12, bill["id"], "20.00")
    assert (await api.ok("GET", "/api/ledger/verify", 12))["valid"] is True
    await _tamper(auction_app, sql)
    result = await api.ok("GET", "/api/ledger/verify", 12)
    assert result["valid"] is False
    assert result["first_broken_seq"] == 2
    assert result["reason"]


async def test_verify_fails_when_the_last_entry_is_deleted(api: Any, auction_app: Any) -> None:
    """Deleting the newest entry leaves a consistent-looking chain; the head row catches it."""
    m = await api.masters(13)
    bill = await _bill(api, 13, m, ["100.00"])
    await _pay(api, 13, bill["id"], "10.00")
    await _tamper(auction_app, "DELETE FROM ledger_entries WHERE commissioner_id = 13 AND seq = 2")
    result = await api.ok("GET", "/api/ledger/verify", 13)
    assert result["valid"] is False
    assert result["first_broken_seq"] == 2
    assert result["entries"] == 1


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_entries SET amount = 0",
        "DELETE FROM ledger_entries",
        "TRUNCATE ledger_entries",
    ],
    ids=["update", "delete", "truncate"],
)
async def test_journal_is_append_only_update_delete_truncate_refused(
    api: Any, auction_app: Any, sql: str
) -> None:
    """The trigger refuses UPDATE, DELETE and TRUNCATE even to the superuser."""
    m = await api.masters(14)
    await _bill(api, 14, m, ["100.00"])
    with pytest.raises(DBAPIError, match="append-only"):
        async with auction_app.state.db.engine.begin() as conn:
            await conn.execute(text(sql))
    assert (await api.ok("GET", "/api/ledger/verify", 14))["entries"] == 1


async def test_farmer_ledger_balance_is_net_of_active_bills_minus_payments(api: Any) -> None:
    """Bill A: 1000.00 + 234.50 = 1234.50, 5 % = 61.725 -> 61.73, net 1172.77.
    Bill B: 999.99 at 2.5 % = 24.99975 -> 25.00, net 974.99.
    Pay 500.00 on A, 74.99 on B. Running: 1172.77, 2147.76, 1647.76, 1572.77."""
    m = await api.masters(15)
    a = await _bill(api, 15, m, ["1000.00", "234.50"])
    b = await _bill(api, 15, m, ["999.99"], commission_rate=2.5)
    assert (a["net_amount"], b["net_amount"]) == (1172.77, 974.99)
    await _pay(api, 15, a["id"], "500.00")
    await _pay(api, 15, b["id"], "74.99")
    entries = await api.ok("GET", f"/api/farmers/{m['farmer_id']}/ledger", 15)
    assert [(e["kind"], e["amount"], e["balance"]) for e in entries] == [
        ("BILL", 1172.77, 1172.77),
        ("BILL", 974.99, 2147.76),
        ("PAYMENT", -500.0, 1647.76),
        ("PAYMENT", -74.99, 1572.77),
    ]
    assert [e["document_number"] for e in entries] == [
        "BILL-001",
        "BILL-002",
        "BILL-001",
        "BILL-002",
    ]
    assert entries[2]["payload"]["method"] == "CASH"
    # Page 2 carries the running balance on from page 1.
    page2 = await api.call("GET", f"/api/farmers/{m['farmer_id']}/ledger?page=2&limit=3", 15)
    body = page2.json()
    assert [e["balance"] for e in body["data"]] == [1572.77]
    assert (body["meta"]["total"], body["meta"]["totalPages"]) == (4, 2)


async def test_farmer_ledger_of_unknown_or_foreign_farmer_is_404(api: Any) -> None:
    m = await api.masters(16)
    resp = await api.call("GET", f"/api/farmers/{m['farmer_id']}/ledger", 17)
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "NOT_FOUND"
    assert (await api.call("GET", "/api/farmers/not-a-uuid/ledger", 16)).status_code == 404


async def test_void_is_a_reversal_entry_never_an_edit(api: Any) -> None:
    """Bill 2525.00 at 5 %: net 2398.75. Voiding appends BILL_VOID -2398.75 (balance 0) and
    leaves the BILL entry byte for byte; re-billing the lots is BILL-002 +2398.75."""
    m = await api.masters(18)
    s = await api.session(18)
    await api.item(s["id"], m, user_id=18)
    bill = await api.ok(
        "POST", f"/api/sessions/{s['id']}/bills", 18, 201, json={"farmer_id": m["farmer_id"]}
    )
    url = f"/api/farmers/{m['farmer_id']}/ledger"
    before = await api.ok("GET", url, 18)
    await api.ok("DELETE", f"/api/bills/{bill['id']}", 18)
    after = await api.ok("GET", url, 18)
    assert {k: v for k, v in after[0].items() if k != "balance"} == {
        k: v for k, v in before[0].items() if k != "balance"
    }
    assert [(e["kind"], e["amount"], e["balance"]) for e in after] == [
        ("BILL", 2398.75, 2398.75),
        ("BILL_VOID", -2398.75, 0.0),
    ]
    assert after[1]["document_id"] == bill["id"] and after[1]["document_number"] == "BILL-001"
    await api.ok(
        "POST", f"/api/sessions/{s['id']}/bills", 18, 201, json={"farmer_id": m["farmer_id"]}
    )
    again = await api.ok("GET", url, 18)
    assert [(e["kind"], e["document_number"], e["balance"]) for e in again] == [
        ("BILL", "BILL-001", 2398.75),
        ("BILL_VOID", "BILL-001", 0.0),
        ("BILL", "BILL-002", 2398.75),
    ]
    assert (await api.ok("GET", "/api/ledger/verify", 18))["valid"] is True


async def test_refused_money_event_writes_no_entry(api: Any) -> None:
    """An overpayment (409) and a void of a paid bill (409) leave the chain as it was."""
    m = await api.masters(19)
    bill = await _bill(api, 19, m, ["100.00"])  # net 95.00
    await _pay(api, 19, bill["id"], "95.00")
    over = await api.call(
        "POST", f"/api/bills/{bill['id']}/payments", 19, json={"amount": 1, "method": "CASH"}
    )
    assert over.status_code == 409
    assert (await api.call("DELETE", f"/api/bills/{bill['id']}", 19)).status_code == 409
    result = await api.ok("GET", "/api/ledger/verify", 19)
    assert (result["valid"], result["entries"]) == (True, 2)


async def test_concurrent_payments_on_two_bills_never_fork_the_chain(api: Any) -> None:
    """20 payments of 1.00 at once, alternating between two bills of two farmers: all 201,
    seqs 1..22 gapless, each prev_hash the previous hash, verify ok, balances hand-computed
    (net 95.00 - 10 x 1.00 = 85.00 each)."""
    m1 = await api.masters(20, "1")
    m2 = {**m1, "farmer_id": await _farmer(api, 20, "Second Farmer")}
    b1 = await _bill(api, 20, m1, ["100.00"])
    s2 = await api.session(20, _next_date())
    await api.item(s2["id"], m2, user_id=20, final_price=100, quantity=1)
    b2 = await api.ok(
        "POST", f"/api/sessions/{s2['id']}/bills", 20, 201, json={"farmer_id": m2["farmer_id"]}
    )
    answers = await asyncio.gather(
        *(
            api.call(
                "POST",
                f"/api/bills/{(b1, b2)[i % 2]['id']}/payments",
                20,
                json={"amount": 1, "method": "UPI"},
            )
            for i in range(20)
        )
    )
    assert [a.status_code for a in answers] == [201] * 20
    entries = []
    for m in (m1, m2):
        entries += await api.ok("GET", f"/api/farmers/{m['farmer_id']}/ledger?limit=100", 20)
        assert entries[-1]["balance"] == 85.0
    entries.sort(key=lambda e: e["seq"])
    assert [e["seq"] for e in entries] == list(range(1, 23))
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(entries))
    # `at` is taken under the head lock: it never goes backwards along the chain.
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    result = await api.ok("GET", "/api/ledger/verify", 20)
    assert (result["valid"], result["entries"], result["head_hash"]) == (
        True,
        22,
        entries[-1]["hash"],
    )


async def test_chains_are_per_commissioner(api: Any) -> None:
    """Each commissioner's chain starts at seq 1 from 64 zeros; another's entries never show."""
    for user in (21, 22):
        m = await api.masters(user)
        await _bill(api, user, m, ["10.00"])
        entries = await api.ok("GET", f"/api/farmers/{m['farmer_id']}/ledger", user)
        assert [(e["seq"], e["prev_hash"]) for e in entries] == [(1, GENESIS)]
        assert (await api.ok("GET", "/api/ledger/verify", user))["entries"] == 1


async def test_day_book_lists_the_days_entries_with_totals(api: Any) -> None:
    """Today: BILL +95.00, BILL +190.00 (200.00 at 5 %), PAYMENT -40.00, BILL_VOID -190.00:
    BILL 2 entries 285.00, BILL_VOID 1 -190.00, PAYMENT 1 -40.00, net 55.00. Yesterday: none."""
    m = await api.masters(23)
    b1 = await _bill(api, 23, m, ["100.00"])
    b2 = await _bill(api, 23, m, ["200.00"])
    await _pay(api, 23, b1["id"], "40.00")
    await api.ok("DELETE", f"/api/bills/{b2['id']}", 23)
    today = dt.datetime.now(dt.UTC).date()
    resp = await api.call("GET", f"/api/reports/day-book?date={today}&limit=3", 23)
    body = resp.json()
    assert [e["seq"] for e in body["data"]] == [1, 2, 3]
    meta = body["meta"]
    assert (meta["day"], meta["total"], meta["totalPages"], meta["net_amount"]) == (
        str(today),
        4,
        2,
        55.0,
    )
    assert meta["totals"] == [
        {"kind": "BILL", "count": 2, "amount": 285.0},
        {"kind": "BILL_VOID", "count": 1, "amount": -190.0},
        {"kind": "PAYMENT", "count": 1, "amount": -40.0},
    ]
    yesterday = today - dt.timedelta(days=1)
    empty = (await api.call("GET", f"/api/reports/day-book?date={yesterday}", 23)).json()
    assert (empty["data"], empty["meta"]["total"], empty["meta"]["net_amount"]) == ([], 0, 0.0)
    for edge in ("0001-01-01", "9999-12-31"):
        assert (await api.ok("GET", f"/api/reports/day-book?date={edge}", 23)) == []
    bad = await api.call("GET", "/api/reports/day-book?date=2025-13-01", 23)
    assert bad.status_code == 400
    assert (await api.call("GET", "/api/reports/day-book", 23)).status_code == 400


async def test_outstanding_lists_unpaid_and_partial_bills_oldest_first(api: Any) -> None:
    """A 100.00 (net 95.00, paid 30.00 -> 65.00 owed), B 200.00 (net 190.00, unpaid),
    C paid in full and D voided are not listed; oldest (A) first."""
    m = await api.masters(24)
    a = await _bill(api, 24, m, ["100.00"])
    b = await _bill(api, 24, m, ["200.00"])
    c = await _bill(api, 24, m, ["20.00"])
    d = await _bill(api, 24, m, ["30.00"])
    await _pay(api, 24, a["id"], "30.00")
    await _pay(api, 24, c["id"], "19.00")
    await api.ok("DELETE", f"/api/bills/{d['id']}", 24)
    rows = await api.ok("GET", "/api/reports/outstanding", 24)
    assert [
        (r["bill_number"], r["net_amount"], r["paid_amount"], r["outstanding_amount"]) for r in rows
    ] == [("BILL-001", 95.0, 30.0, 65.0), ("BILL-002", 190.0, 0.0, 190.0)]
    assert rows[0]["farmer"] == {
        "id": m["farmer_id"],
        "name": "John Farmer",
        "phone": "+1234567890",
        "village": "Village",
    }
    # Sessions of 2020 under SAME_DAY terms: both long overdue, the earlier due first.
    assert (rows[0]["due_at"], rows[0]["overdue"]) == (a["due_at"], True)
    assert rows[0]["date"] == a["created_at"] and rows[1]["bill_id"] == b["id"]


async def test_outstanding_lists_overdue_bills_first(api: Any) -> None:
    """Issue 11: farmers unpaid, overdue first. X (made first, its session tomorrow: due the
    midnight after it) is not overdue; Y (made second, a 2020 session) is, so Y comes first."""
    m = await api.masters(26)
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    s = await api.session(26, f"{tomorrow}T10:00:00Z")
    await api.item(s["id"], m, user_id=26, final_price=100.0, quantity=1)
    x = await api.ok(
        "POST", f"/api/sessions/{s['id']}/bills", 26, 201, json={"farmer_id": m["farmer_id"]}
    )
    y = await _bill(api, 26, m, ["50.00"])
    rows = await api.ok("GET", "/api/reports/outstanding", 26)
    assert [(r["bill_id"], r["overdue"]) for r in rows] == [(y["id"], True), (x["id"], False)]
    assert rows[1]["due_at"] == f"{tomorrow + dt.timedelta(days=1)}T00:00:00.000Z"


async def test_csv_outputs_are_exact_and_defuse_formulas(api: Any) -> None:
    """Farmer '=HYPERLINK("x")' with one bill of 100.00 (net 95.00) and a payment of 30.00:
    the ledger, day book and outstanding CSVs byte for byte, by `.csv` and by Accept."""
    m = await api.masters(25)
    farmer_id = await _farmer(api, 25, '=HYPERLINK("x")')
    m = {**m, "farmer_id": farmer_id}
    bill = await _bill(api, 25, m, ["100.00"])
    await _pay(api, 25, bill["id"], "30.00")
    entries = await api.ok("GET", f"/api/farmers/{farmer_id}/ledger", 25)
    e1, e2 = entries

    raw = await api.client.get(f"/api/farmers/{farmer_id}/ledger.csv", headers=api.headers(25))
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "text/csv; charset=utf-8"
    assert raw.headers["content-disposition"] == 'attachment; filename="ledger-HYPERLINK-x.csv"'
    lines = raw.content.decode("utf-8").split("\r\n")
    assert lines[0] == "seq,at,kind,party_type,party_id,document_number,amount,balance,hash"
    assert lines[1] == (
        f"1,{lines[1].split(',')[1]},BILL,FARMER,{farmer_id},BILL-001,95.00,95.00,{e1['hash']}"
    )
    assert lines[2] == (
        f"2,{lines[2].split(',')[1]},PAYMENT,FARMER,{farmer_id},BILL-001,-30.00,65.00,{e2['hash']}"
    )
    assert lines[3:] == [""]
    # The CSV's timestamps carry microseconds; the JSON's milliseconds are their prefix.
    assert lines[1].split(",")[1][:23] == e1["at"][:23]
    by_accept = await api.client.get(
        f"/api/farmers/{farmer_id}/ledger", headers={**api.headers(25), "Accept": "text/csv"}
    )
    assert by_accept.content == raw.content

    out = await api.client.get("/api/reports/outstanding.csv", headers=api.headers(25))
    assert out.headers["content-disposition"] == 'attachment; filename="outstanding.csv"'
    created = out.text.split("\r\n")[1].split(",")[1]
    assert created[:23] == bill["created_at"][:23]
    due = out.text.split("\r\n")[1].split(",")[-7]
    assert due[:19] == bill["due_at"][:19]
    # The columns added with buyer invoices follow the farmer's; a bill's row leaves the
    # buyer's empty.
    assert out.text == (
        "bill_number,date,farmer_id,farmer_name,net_amount,paid_amount,outstanding_amount,"
        "due_at,overdue,party_type,invoice_number,buyer_id,buyer_name,due_date\r\n"
        f'BILL-001,{created},{farmer_id},"\'=HYPERLINK(""x"")",95.00,30.00,65.00,{due},true,'
        "FARMER,,,,\r\n"
    )

    today = dt.datetime.now(dt.UTC).date()
    day = await api.client.get(
        f"/api/reports/day-book?date={today}", headers={**api.headers(25), "Accept": "text/csv"}
    )
    assert day.headers["content-disposition"] == f'attachment; filename="day-book-{today}.csv"'
    assert (
        day.text.split("\r\n")[0] == "seq,at,kind,party_type,party_id,document_number,amount,hash"
    )
    assert [row.split(",")[6] for row in day.text.split("\r\n")[1:-1]] == ["95.00", "-30.00"]


# --- the invariant on random sequences -----------------------------------------------------

_users = itertools.count(1000)

ops = st.lists(
    st.one_of(
        st.tuples(st.just("bill"), st.integers(0, 1), st.integers(1, 99_999_99)),
        st.tuples(st.just("pay"), st.integers(0, 7), st.integers(1, 99_999_99)),
        st.tuples(st.just("void"), st.integers(0, 7), st.just(0)),
    ),
    min_size=1,
    max_size=10,
)


@pytest.mark.timeout(900)
@property_settings(15)
@given(steps=ops)
async def test_random_bills_payments_voids_balances_match_and_verify_succeeds(
    api: Any, steps: list[tuple[str, int, int]]
) -> None:
    """Random bills (lot in cents), payments (≤ what is owed, else 409) and voids (409 once
    paid): each farmer's ledger balance = Σ net of its active bills - Σ payments, the
    outstanding report agrees bill by bill, and verify succeeds."""
    user = next(_users)  # a fresh commissioner per example: no cleanup between examples
    m = await api.masters(user)
    farmers = [m["farmer_id"], await _farmer(api, user, "Other")]
    bills: list[dict[str, Any]] = []
    paid: dict[str, Decimal] = {}
    for kind, index, cents in steps:
        if kind == "bill":
            farmer = {**m, "farmer_id": farmers[index]}
            bill = await _bill(api, user, farmer, [str(D(cents) / 100)])
            bills.append(bill)
            paid[bill["id"]] = D(0)
        elif bills:
            bill = bills[index % len(bills)]
            bill = await api.ok("GET", f"/api/bills/{bill['id']}", user)
            if kind == "pay":
                amount = D(cents) / 100
                owed = D(str(bill["net_amount"])) - paid[bill["id"]]
                resp = await api.call(
                    "POST",
                    f"/api/bills/{bill['id']}/payments",
                    user,
                    json={"amount": str(amount), "method": "BANK"},
                )
                ok = bill["status"] == "ACTIVE" and amount <= owed
                assert resp.status_code == (201 if ok else 409), resp.text
                if ok:
                    paid[bill["id"]] += amount
            else:
                resp = await api.call("DELETE", f"/api/bills/{bill['id']}", user)
                ok = bill["status"] == "ACTIVE" and paid[bill["id"]] == 0
                assert resp.status_code == (200 if ok else 409), resp.text
    final = {b["id"]: await api.ok("GET", f"/api/bills/{b['id']}", user) for b in bills}
    for farmer_id in farmers:
        expected = sum(
            (
                D(str(b["net_amount"])) - paid[i]
                for i, b in final.items()
                if b["farmer"]["id"] == farmer_id and b["status"] == "ACTIVE"
            ),
            D(0),
        )
        entries = await api.ok("GET", f"/api/farmers/{farmer_id}/ledger?limit=100", user)
        balance = D(str(entries[-1]["balance"])) if entries else D(0)
        assert balance == expected
    rows = await api.ok("GET", "/api/reports/outstanding?limit=100", user)
    owed = {r["bill_id"]: D(str(r["outstanding_amount"])) for r in rows}
    assert owed == {
        i: D(str(b["net_amount"])) - paid[i]
        for i, b in final.items()
        if b["status"] == "ACTIVE" and D(str(b["net_amount"])) > paid[i]
    }
    result = await api.ok("GET", "/api/ledger/verify", user)
    assert result["valid"] is True
