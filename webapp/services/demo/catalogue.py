"""What the demo data is made of: venues, a season of events, names, places, habits.

Everything here is fictional: venue names, acts and people are invented, and every
address is under an `example.*` domain, so a demo campaign can never reach a real inbox.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

DEMO_TENANT_NAME = "Demo Venue Group"
DEMO_TIMEZONE = "Europe/London"
DEMO_SENDER_NAME = "Demo Venue Group"
DEMO_SENDER_EMAIL = "hello@demo-venues.example.com"
DEMO_POSTAL_ADDRESS = "Demo Venue Group Ltd, 12 Riverside Walk, London SE1 9XX, United Kingdom"
# The demo's purchases and its money on the pages: pounds, written the British way.
CURRENCY = "GBP"
DEMO_LOCALE = "en_GB"


@dataclass(frozen=True)
class Venue:
    name: str
    city: str
    timezone: str


VENUES = (
    Venue("Riverside Arena", "London", "Europe/London"),
    Venue("The Foundry", "Manchester", "Europe/London"),
    Venue("Victoria Playhouse", "Bristol", "Europe/London"),
    Venue("Harbour Hall", "Glasgow", "Europe/London"),
    Venue("Kingsway Stadium", "Birmingham", "Europe/London"),
    Venue("Meadowbank Park", "Oxford", "Europe/London"),
    Venue("The Laughing Cellar", "Leeds", "Europe/London"),
    Venue("Liberty Theatre", "Dublin", "Europe/Dublin"),
    Venue("Paradiso Noord", "Amsterdam", "Europe/Amsterdam"),
)

GENRES = ("concert", "comedy", "theatre", "festival", "sport")

# Ticket prices per genre, in quarter pounds so every sum is exact even as a float
# (SQLite stores NUMERIC as REAL); booking fee per ticket likewise.
PRICES = {
    "concert": (27.50, 35.00, 42.50, 55.00, 65.00, 85.00),
    "comedy": (15.00, 18.50, 22.00, 25.00, 29.50),
    "theatre": (24.00, 32.50, 45.00, 59.50, 75.00),
    "festival": (89.50, 129.00, 165.00, 199.00, 245.00),
    "sport": (20.00, 28.00, 35.50, 48.00, 60.00),
}
BOOKING_FEE = {"concert": 3.25, "comedy": 1.75, "theatre": 2.50, "festival": 7.50, "sport": 2.25}
# Local start time (hour, minute) by genre.
START_TIME = {"concert": (19, 30), "comedy": (20, 0), "theatre": (19, 30), "festival": (12, 0), "sport": (15, 0)}

# (name, genre, venue index, popularity 1-5). Popularity weights which events sell most.
EVENT_TITLES = (
    ("The Velvet Static: Neon Nights Tour", "concert", 0, 5),
    ("Marlowe & The Lanterns", "concert", 1, 3),
    ("Saltwater Choir Live", "concert", 3, 3),
    ("Northern Lights Orchestra: Film Scores", "concert", 0, 4),
    ("Echo Parade", "concert", 8, 2),
    ("Ruby Hartley Unplugged", "concert", 7, 3),
    ("Glasshouse Collective", "concert", 3, 2),
    ("Midnight Arcade: Synth Revival", "concert", 0, 4),
    ("The Paper Kites of Leith", "concert", 3, 2),
    ("Brass Against the Tide", "concert", 1, 2),
    ("Dara Finnegan: Mostly True", "comedy", 6, 4),
    ("Priya Sandhu: Overthinking It", "comedy", 6, 3),
    ("Late Night Laughs Showcase", "comedy", 6, 2),
    ("Tom Ashby: Work in Progress", "comedy", 1, 2),
    ("The Improv Hour", "comedy", 6, 1),
    ("Comedy at the Hall: New Year Special", "comedy", 3, 3),
    ("Siobhan Kelly: Grand Stretch", "comedy", 7, 3),
    ("The Tempest", "theatre", 2, 3),
    ("A Doll's House", "theatre", 7, 2),
    ("The Lighthouse Keeper's Daughter", "theatre", 2, 2),
    ("Jukebox Heroes: The Musical", "theatre", 2, 5),
    ("An Inspector Calls", "theatre", 7, 3),
    ("The Snow Queen (Christmas Panto)", "theatre", 2, 4),
    ("Much Ado About Nothing", "theatre", 2, 2),
    ("Waiting for the Tide", "theatre", 7, 1),
    ("Meadowbank Festival: Weekend Pass", "festival", 5, 5),
    ("Folk on the Green", "festival", 5, 3),
    ("City Beats Day Festival", "festival", 0, 4),
    ("Harbour Lights Weekender", "festival", 3, 3),
    ("Food & Music Fair", "festival", 5, 2),
    ("Meadowbank Festival: Day Ticket", "festival", 5, 4),
    ("Kingsway Lions vs Harbour City", "sport", 4, 3),
    ("Kingsway Lions vs Northbridge Rovers", "sport", 4, 3),
    ("Cup Quarter Final: Lions vs Athletic", "sport", 4, 5),
    ("Championship Boxing Night", "sport", 0, 4),
    ("Kingsway Lions vs Westport United", "sport", 4, 2),
    ("Basketball All-Stars", "sport", 0, 2),
    ("Kingsway 10K Fun Run", "sport", 4, 1),
    ("Darts Premier Night", "sport", 1, 3),
    ("Kingsway Lions vs Eastfield Town", "sport", 4, 2),
)

FIRST_NAMES = (
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Freya", "Florence", "Grace",
    "Sophia", "Emily", "Ella", "Poppy", "Evie", "Chloe", "Sienna", "Charlotte", "Harper", "Isabella",
    "Aoife", "Niamh", "Saoirse", "Ciara", "Siobhan", "Priya", "Aisha", "Fatima", "Zara", "Maya",
    "Hannah", "Lucy", "Jessica", "Ruby", "Alice", "Matilda", "Rosie", "Daisy", "Phoebe", "Megan",
    "Oliver", "George", "Noah", "Arthur", "Leo", "Muhammad", "Harry", "Oscar", "Archie", "Henry",
    "Jack", "Charlie", "Freddie", "Theo", "Thomas", "Alfie", "Jacob", "William", "James", "Joshua",
    "Liam", "Conor", "Sean", "Cillian", "Ruairi", "Arjun", "Rohan", "Omar", "Yusuf", "Kwame",
    "Daniel", "Samuel", "Max", "Lucas", "Ethan", "Finn", "Callum", "Ryan", "Adam", "Ben",
    "Sarah", "Laura", "Rebecca", "Rachel", "Emma", "Katie", "Amy", "Sophie", "Helen", "Claire",
    "David", "Michael", "Paul", "Mark", "Andrew", "Richard", "Stephen", "Peter", "Chris", "Matthew",
)
LAST_NAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson",
    "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Thomas", "Clarke",
    "Jackson", "Wood", "Harris", "Edwards", "Turner", "Martin", "Cooper", "Hill", "Ward", "Hughes",
    "Moore", "Clark", "King", "Harrison", "Lewis", "Baker", "Lee", "Allen", "Morris", "Khan",
    "Scott", "Watson", "Davis", "Parker", "James", "Bennett", "Young", "Phillips", "Richardson", "Mitchell",
    "Murphy", "Kelly", "O'Brien", "Byrne", "Ryan", "O'Sullivan", "Walsh", "McCarthy", "Doyle", "Gallagher",
    "Campbell", "Stewart", "MacDonald", "Anderson", "Reid", "Murray", "Ross", "Fraser", "Hamilton", "Graham",
    "Ahmed", "Ali", "Hussain", "Shah", "Singh", "Kaur", "Begum", "Mensah", "Okafor", "Nowak",
    "Kowalski", "Rossi", "Garcia", "Silva", "Novak", "Chen", "Wong", "Nguyen", "Kim", "Costa",
    "Fletcher", "Marsh", "Holmes", "Palmer", "Barker", "Lawrence", "Dixon", "Kennedy", "Ellis", "Chapman",
)
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com", "inbox.example.net")

# (city, weight): customers live near the venues, a few further afield.
CITIES = (
    ("London", 26), ("Manchester", 12), ("Birmingham", 10), ("Bristol", 8), ("Leeds", 8),
    ("Glasgow", 8), ("Dublin", 7), ("Oxford", 4), ("Liverpool", 4), ("Edinburgh", 4),
    ("Sheffield", 3), ("Cardiff", 2), ("Belfast", 2), ("Paris", 1), ("Amsterdam", 1),
)
CITY_TIMEZONE = {"Dublin": "Europe/Dublin", "Paris": "Europe/Paris", "Amsterdam": "Europe/Amsterdam"}
GENRE_WEIGHTS = {"concert": 35, "comedy": 18, "theatre": 20, "festival": 12, "sport": 15}
SIGNUP_SOURCES = (("website", 55), ("box_office", 12), ("mobile_app", 18), ("partner", 8), ("import", 7))
# Roughly what a well-kept list looks like: most subscribed, a few gone or broken.
EMAIL_STATUS_WEIGHTS = (("subscribed", 880), ("unsubscribed", 85), ("bounced", 25), ("complained", 10))
GATES = ("A", "B", "C", "D", "North", "South")
PAGE_SOURCES = ("email", "search", "social", "direct", "partner")


@dataclass(frozen=True)
class Event:
    id: str
    name: str
    genre: str
    venue: Venue
    starts_at: int  # epoch seconds, UTC
    popularity: int
    # The `event` object the platform sends with a purchase, serialised once.
    json: str


def build_events(rng: random.Random, now: int) -> list[Event]:
    """The season: EVENT_TITLES spread over the past 18 months and the next 6, by date."""
    # Ids follow the catalogue, dates a shuffle of it: the same seed gives the same season.
    titles = [(f"evt_{1001 + i}", *title) for i, title in enumerate(EVENT_TITLES)]
    rng.shuffle(titles)
    first = datetime.fromtimestamp(now, UTC) - timedelta(days=548)
    span_days = 548 + 183
    events = []
    for i, (event_id, name, genre, venue_index, popularity) in enumerate(titles):
        venue = VENUES[venue_index]
        day = (first + timedelta(days=(i + rng.random()) * span_days / len(titles))).date()
        hour, minute = START_TIME[genre]
        local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(venue.timezone))
        payload = {"id": event_id, "name": name, "starts_at": local.isoformat(), "venue": venue.name}
        events.append(Event(event_id, name, genre, venue, int(local.timestamp()), popularity,
                            json.dumps(payload, ensure_ascii=False)))
    events.sort(key=lambda e: e.starts_at)
    return events
