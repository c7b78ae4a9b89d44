#!/usr/bin/env python3
"""Transactions in the design of a published fraud simulator, as independent evaluation data.

This follows the *published description* of the transaction simulator of the open "Reproducible Machine Learning for
Credit Card Fraud Detection - Practical Handbook" (Le Borgne et al., 2022, chapter "Transaction data simulator"): it is
not StreamFraud's generator and nobody here designed it for StreamFraud's models. Rules, as published:

- customers: location (x, y) ~ U(0, 100)^2, mean amount ~ U(5, 100), amount std = mean / 2, mean transactions per day
  ~ U(0, 4); terminals: location ~ U(0, 100)^2; a customer uses the terminals within radius r = 5 of its location.
- each day a customer makes Poisson(mean per day) transactions at seconds ~ N(43200, 20000) of the day (outside the
  day: dropped), amount ~ N(mean, std) (negative: U(0, 2 * mean)), rounded to cents, at a uniformly chosen usable
  terminal.
- fraud scenario 1: every amount > 220 is fraud. Scenario 2 (compromised terminals): each day 2 random terminals are
  compromised; all their transactions of the next 28 days are fraud. Scenario 3 (compromised customers): each day 3
  random customers are compromised; a third of their transactions of the next 14 days get 5x the amount and are fraud.

Output: StreamFraud's canonical CSV (transaction_id, card_id = customer, merchant_id = terminal, amount, currency,
event_time, is_fraud, fraud_scenario), sorted by event time. Standard library only; deterministic for a seed.
Usage: handbook_sim.py --out data.csv [--customers 5000] [--terminals 10000] [--days 183] [--start 2018-04-01] [--seed 0]
"""
import argparse
import csv
import datetime as dt
import math
import random
import sys


def poisson(rng, lam):
    # Knuth's method; lam <= 4 here.
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--customers", type=int, default=5000)
    ap.add_argument("--terminals", type=int, default=10000)
    ap.add_argument("--days", type=int, default=183)
    ap.add_argument("--start", default="2018-04-01")
    ap.add_argument("--radius", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    rng = random.Random(a.seed)
    customers = []
    for _ in range(a.customers):
        x, y = rng.uniform(0, 100), rng.uniform(0, 100)
        mean = rng.uniform(5, 100)
        customers.append((x, y, mean, mean / 2, rng.uniform(0, 4)))
    terminals = [(rng.uniform(0, 100), rng.uniform(0, 100)) for _ in range(a.terminals)]

    # Usable terminals per customer (grid buckets of size r keep this fast).
    cell = a.radius
    grid = {}
    for t, (x, y) in enumerate(terminals):
        grid.setdefault((int(x // cell), int(y // cell)), []).append(t)
    usable = []
    for (x, y, _, _, _) in customers:
        cx, cy = int(x // cell), int(y // cell)
        near = []
        for gx in (cx - 1, cx, cx + 1):
            for gy in (cy - 1, cy, cy + 1):
                for t in grid.get((gx, gy), ()):
                    tx, ty = terminals[t]
                    if (tx - x) ** 2 + (ty - y) ** 2 < a.radius ** 2:
                        near.append(t)
        usable.append(sorted(near))

    rows = []  # [seconds, customer, terminal, amount, fraud, scenario]
    for c, (x, y, mean, std, per_day) in enumerate(customers):
        if not usable[c]:
            continue
        for day in range(a.days):
            for _ in range(poisson(rng, per_day)):
                second = int(rng.gauss(86400 / 2, 20000))
                if 0 < second < 86400:
                    amount = rng.gauss(mean, std)
                    if amount < 0:
                        amount = rng.uniform(0, 2 * mean)
                    rows.append([day * 86400 + second, c, rng.choice(usable[c]), round(amount, 2), 0, ""])
    rows.sort(key=lambda r: (r[0], r[1]))

    for r in rows:  # scenario 1
        if r[3] > 220:
            r[4], r[5] = 1, "large_amount"
    by_terminal, by_customer = {}, {}
    for i, r in enumerate(rows):
        by_terminal.setdefault(r[2], []).append(i)
        by_customer.setdefault(r[1], []).append(i)
    for day in range(a.days):  # scenario 2
        for t in rng.sample(range(a.terminals), 2):
            for i in by_terminal.get(t, ()):
                if day * 86400 <= rows[i][0] < (day + 28) * 86400 and rows[i][4] == 0:
                    rows[i][4], rows[i][5] = 1, "compromised_terminal"
    for day in range(a.days):  # scenario 3
        for c in rng.sample(range(a.customers), 3):
            window = [i for i in by_customer.get(c, ()) if day * 86400 <= rows[i][0] < (day + 14) * 86400]
            for i in rng.sample(window, len(window) // 3):
                if rows[i][4] == 0:
                    rows[i][3] = round(rows[i][3] * 5, 2)
                    rows[i][4], rows[i][5] = 1, "compromised_card"

    start = dt.datetime.fromisoformat(a.start).replace(tzinfo=dt.timezone.utc)
    with open(a.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["transaction_id", "card_id", "merchant_id", "amount", "currency", "event_time", "is_fraud", "fraud_scenario"])
        for n, r in enumerate(rows):
            t = start + dt.timedelta(seconds=r[0])
            w.writerow([f"tx{n}", f"c{r[1]}", f"t{r[2]}", f"{r[3]:.2f}", "EUR", t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "true" if r[4] else "false", r[5]])
    frauds = sum(r[4] for r in rows)
    print(f"{len(rows)} transactions, {frauds} frauds ({100 * frauds / max(1, len(rows)):.2f}%) -> {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
