"""Made-up members for `konsort dev seed`: deterministic from a seed, no download.

Member number ``n`` of seed ``s`` always gets the same id, name, email, phone
and birthday, so a test (or a person trying the admin UI) can find a seeded
member again by email. Emails are unique by construction (the number is in
them) and use the reserved ``example.*`` domains, which never reach anyone.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date

from node.services.personal_data import PersonalData

FIRST_NAMES = (
    "Ada", "Agnes", "Alma", "Anders", "Anna", "Astrid", "Bjørn", "Clara", "Emil", "Emma",
    "Erik", "Frida", "Freja", "Gustav", "Hanna", "Ida", "Ingrid", "Jakob", "Johan", "Karen",
    "Karl", "Lars", "Laura", "Liv", "Lucas", "Magnus", "Maja", "Mathilde", "Mikkel", "Nora",
    "Ole", "Oliver", "Olivia", "Sara", "Sigrid", "Sofie", "Søren", "Thea", "Tobias", "Viktor",
)  # fmt: skip
LAST_NAMES = (
    "Andersen", "Bakken", "Berg", "Christensen", "Dahl", "Eriksen", "Haugen", "Hansen",
    "Jensen", "Johansen", "Karlsen", "Larsen", "Madsen", "Nielsen", "Nilsen", "Olsen",
    "Pedersen", "Poulsen", "Rasmussen", "Sørensen", "Strand", "Thomsen", "Lund", "Møller",
)  # fmt: skip
DOMAINS = ("example.com", "example.org", "example.net")
_ASCII = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa"})


@dataclass(frozen=True)
class SyntheticMember:
    number: int
    customer_id: str
    personal: PersonalData
    #: The member's own random stream: everything else about them comes from it.
    rng: random.Random


def customer_id_for(seed: int, number: int) -> str:
    """The opaque id of member ``number`` (the same shape as node.ids.new_id)."""
    digest = hashlib.blake2b(f"konsort-seed:{seed}:{number}".encode(), digest_size=16)
    return f"cus_{digest.hexdigest()}"


def synthetic_member(seed: int, number: int) -> SyntheticMember:
    rng = random.Random(f"{seed}:{number}")
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    slug = f"{first}.{last}".lower().translate(_ASCII)
    born = date(rng.randint(1940, 2006), rng.randint(1, 12), rng.randint(1, 28))
    # Built without validation (a million EmailStr checks cost minutes); every
    # value is valid by construction, and reading a profile back validates it.
    personal = PersonalData.model_construct(
        name=f"{first} {last}",
        email=f"{slug}.{number}@{DOMAINS[number % len(DOMAINS)]}",
        phone=f"+45 {rng.randint(20_000_000, 99_999_999)}",
        birthday=born,
    )
    return SyntheticMember(number, customer_id_for(seed, number), personal, rng)


def synthetic_email(seed: int, number: int) -> str:
    """The email seeded member ``number`` was given (to find them again)."""
    email = synthetic_member(seed, number).personal.email
    assert email is not None
    return str(email)
