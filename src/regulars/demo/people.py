"""Names, places and contact details for demo customers (all fictional).

E-mail addresses use reserved example domains and phone numbers the 555
exchange, so no demo contact can reach a real person.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from regulars.demo._arrow import join, take

FIRST_NAMES = [
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth", "William", "Barbara",
    "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Chris", "Karen", "Daniel", "Lisa", "Matthew", "Nancy",
    "Anthony", "Betty", "Mark", "Sandra", "Steven", "Ashley", "Paul", "Emily", "Andrew", "Kimberly", "Joshua", "Donna",
    "Kevin", "Michelle", "Brian", "Carol", "George", "Amanda", "Timothy", "Melissa", "Ryan", "Deborah", "Jacob", "Stephanie",
    "Nicholas", "Rebecca", "Eric", "Laura", "Jonathan", "Helen", "Justin", "Sharon", "Brandon", "Cynthia", "Samuel", "Kathleen",
    "Benjamin", "Amy", "Gregory", "Angela", "Alexander", "Anna", "Patrick", "Ruth", "Frank", "Brenda", "Raymond", "Pamela",
    "Jack", "Nicole", "Dennis", "Katherine", "Tyler", "Samantha", "Aaron", "Christine", "Jose", "Emma", "Adam", "Olivia",
    "Nathan", "Sofia", "Henry", "Maya", "Zachary", "Priya", "Kyle", "Mei", "Noah", "Aisha", "Ethan", "Hana", "Lucas",
    "Ines", "Mateo", "Yuki", "Omar", "Fatima", "Diego", "Chloe", "Arjun", "Zoe", "Kai", "Leila", "Theo", "Nora",
]
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez",
    "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson",
    "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell",
    "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins",
    "Reyes", "Stewart", "Morris", "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson",
    "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks", "Chavez", "Wood",
    "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez", "Castillo", "Sanders", "Patel", "Myers",
    "Long", "Ross", "Foster", "Jimenez", "Chen", "Wang", "Singh", "Tanaka", "Okafor", "Larsen", "Novak", "Rossi", "Dubois",
]
EMAIL_DOMAINS = ["example.com", "example.net", "example.org", "mail.example", "inbox.test"]
EMAIL_DOMAIN_WEIGHTS = [0.38, 0.22, 0.15, 0.15, 0.10]

#: city, region, country, postal-code stem, weight, sales-tax rate, is local to the stores
PLACES = [
    ("Portland", "OR", "US", "972", 30, 0.0, True), ("Beaverton", "OR", "US", "970", 5, 0.0, True),
    ("Gresham", "OR", "US", "970", 3, 0.0, True), ("Lake Oswego", "OR", "US", "970", 2, 0.0, True),
    ("Tigard", "OR", "US", "972", 2.5, 0.0, True), ("Vancouver", "WA", "US", "986", 4, 0.065, True),
    ("Eugene", "OR", "US", "974", 2, 0.0, False), ("Bend", "OR", "US", "977", 1.5, 0.0, False),
    ("Seattle", "WA", "US", "981", 7, 0.065, False), ("Tacoma", "WA", "US", "984", 1.5, 0.065, False),
    ("San Francisco", "CA", "US", "941", 5, 0.0725, False), ("Oakland", "CA", "US", "946", 2, 0.0725, False),
    ("Los Angeles", "CA", "US", "900", 5, 0.0725, False), ("San Diego", "CA", "US", "921", 2, 0.0725, False),
    ("Sacramento", "CA", "US", "958", 1.5, 0.0725, False), ("Boise", "ID", "US", "837", 1.5, 0.06, False),
    ("Denver", "CO", "US", "802", 3, 0.029, False), ("Salt Lake City", "UT", "US", "841", 1.5, 0.061, False),
    ("Phoenix", "AZ", "US", "850", 2, 0.056, False), ("Austin", "TX", "US", "787", 3, 0.0625, False),
    ("Chicago", "IL", "US", "606", 4, 0.0625, False), ("Minneapolis", "MN", "US", "554", 2, 0.06875, False),
    ("New York", "NY", "US", "100", 5, 0.04, False), ("Brooklyn", "NY", "US", "112", 3, 0.04, False),
    ("Boston", "MA", "US", "021", 2.5, 0.0625, False), ("Philadelphia", "PA", "US", "191", 2, 0.06, False),
    ("Washington", "DC", "US", "200", 2, 0.06, False), ("Atlanta", "GA", "US", "303", 2, 0.04, False),
    ("Nashville", "TN", "US", "372", 1.5, 0.07, False), ("Miami", "FL", "US", "331", 1.5, 0.06, False),
    ("Vancouver", "BC", "CA", "V6B", 1.2, 0.0, False), ("Toronto", "ON", "CA", "M5V", 1.0, 0.0, False),
    ("London", "England", "GB", "SW1", 0.8, 0.0, False), ("Berlin", "Berlin", "DE", "101", 0.5, 0.0, False),
    ("Amsterdam", "North Holland", "NL", "101", 0.4, 0.0, False), ("Melbourne", "VIC", "AU", "300", 0.3, 0.0, False),
]
STORES = ["Lantern - Division St", "Lantern - Pearl District"]
AREA_CODES = [f"{a}" for a in range(201, 990, 7) if a % 100 not in (11,)][:100]

CITY = [p[0] for p in PLACES]
REGION = [p[1] for p in PLACES]
COUNTRY = [p[2] for p in PLACES]
TAX_RATE = np.array([p[5] for p in PLACES])
IS_LOCAL = np.array([p[6] for p in PLACES])
IS_DOMESTIC = np.array([p[2] == "US" for p in PLACES])


def draw_places(rng: np.random.Generator, local_only: np.ndarray) -> np.ndarray:
    """A place index per customer; ``local_only`` customers (store shoppers) live near the stores."""
    w = np.array([p[4] for p in PLACES], dtype=float)
    cdf_all = np.cumsum(w) / w.sum()
    wl = np.where(IS_LOCAL, w, 0.0)
    cdf_local = np.cumsum(wl) / wl.sum()
    u = rng.random(local_only.size)
    out = np.searchsorted(cdf_all, u, side="right")
    out[local_only] = np.searchsorted(cdf_local, u[local_only], side="right")
    return np.minimum(out, len(PLACES) - 1)


def postal_codes(rng: np.random.Generator, place: np.ndarray) -> pa.Array:
    """Plausible postal codes in each place's format."""
    n = place.size
    stem = take([p[3] for p in PLACES], place)
    country = np.array(COUNTRY)[place]
    d2 = pc.utf8_lpad(pc.cast(pa.array(rng.integers(1, 40, n)), pa.string()), 2, "0")
    us = join(stem, d2)
    letters = np.array(list("ABCEGHJKLMNPRSTVWXY"))
    a = pa.array(letters[rng.integers(0, letters.size, n)])
    b = pa.array(letters[rng.integers(0, letters.size, n)])
    digit = pc.cast(pa.array(rng.integers(0, 10, n)), pa.string())
    ca = join(stem, " ", digit, a, digit)
    gb = join(stem, digit, " ", digit, a, b)
    de = join(stem, pc.cast(pa.array(rng.integers(10, 99, n)), pa.string()))
    nl = join(stem, digit, " ", a, b)
    au = join(stem, digit)
    out = us
    for code, arr in (("CA", ca), ("GB", gb), ("DE", de), ("NL", nl), ("AU", au)):
        out = pc.if_else(pa.array(country == code), arr, out)
    return out


def names_and_contacts(rng: np.random.Generator, number: np.ndarray, has_email: np.ndarray, has_phone: np.ndarray):
    """first_name, last_name, email, phone (arrow arrays); unique e-mails and phones.

    *number* is the customer's 1-based number; it makes every address unique.
    """
    n = number.size
    fi = rng.integers(0, len(FIRST_NAMES), n)
    li = rng.integers(0, len(LAST_NAMES), n)
    first = take(FIRST_NAMES, fi)
    last = take(LAST_NAMES, li)
    lf, ll = pc.utf8_lower(first), pc.utf8_lower(last)
    initial = pc.utf8_slice_codeunits(lf, 0, 1)
    num = pc.cast(pa.array(number), pa.string())
    style = rng.integers(0, 4, n)
    local = lf
    for s, arr in ((0, join(lf, ".", ll, num)), (1, join(initial, ll, num)), (2, join(lf, "_", ll, num)), (3, join(ll, ".", lf, num))):
        local = pc.if_else(pa.array(style == s), arr, local)
    domain_idx = np.minimum(np.searchsorted(np.cumsum(EMAIL_DOMAIN_WEIGHTS), rng.random(n), side="right"), len(EMAIL_DOMAINS) - 1)
    email = join(local, "@", take(EMAIL_DOMAINS, domain_idx))
    # a few people type their address with capitals: the loader lower-cases it
    shouty = rng.random(n) < 0.03
    email = pc.if_else(pa.array(shouty), join(first, ".", last, num, "@", take(EMAIL_DOMAINS, domain_idx)), email)
    email = pc.if_else(pa.array(has_email), email, pa.nulls(n, pa.string()))
    # phones: unique per customer through (area code, last four digits) = customer number
    k = np.asarray(number, dtype=np.int64)
    area = take(AREA_CODES, (k // 10_000) % len(AREA_CODES))
    last4 = pc.utf8_lpad(pc.cast(pa.array(k % 10_000), pa.string()), 4, "0")
    fmt = rng.integers(0, 3, n)
    phone = pc.if_else(
        pa.array(fmt == 0), join("+1 ", area, "-555-", last4),
        pc.if_else(pa.array(fmt == 1), join("(", area, ") 555-", last4), join("+1", area, "555", last4)),
    )
    phone = pc.if_else(pa.array(has_phone), phone, pa.nulls(n, pa.string()))
    return first, last, email, phone
