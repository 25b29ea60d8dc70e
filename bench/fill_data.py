"""Words for bench.fill: ISP-like ticket titles with a Zipf-like mix, names and domains."""

from __future__ import annotations

import random
from dataclasses import dataclass

AGENTS_PER_TENANT = 20
PRIORITIES = ("low", "normal", "high", "urgent")
CHANNELS = ("email", "web", "api", "chat", "workflow")
DOMAINS = ("example.com", "example.net", "example.org", "mail.example", "post.example",
           "inbox.example")
FIRST_NAMES = ("Anna", "Ben", "Carla", "David", "Elena", "Farid", "Greta", "Hugo", "Ines",
               "Jonas", "Katrin", "Lukas", "Maria", "Nils", "Olga", "Paul", "Rosa", "Samir",
               "Tanja", "Umut", "Vera", "Wim", "Yusuf", "Zoe")
LAST_NAMES = ("Schmidt", "Garcia", "Novak", "Kowalski", "Rossi", "Dubois", "Jansen", "Silva",
              "Yilmaz", "Nielsen", "Horvat", "Costa", "Weber", "Moreau", "Petrov", "Berg",
              "Lindqvist", "Kaya", "Meyer", "Ortega")
STREETS = ("Hauptstrasse", "Lindenweg", "Bahnhofstrasse", "Gartenweg", "Kirchplatz",
           "Schillerstrasse", "Rosenweg", "Marktplatz", "Bergstrasse", "Waldweg", "Seestrasse",
           "Mühlenweg", "Parkallee", "Ringstrasse", "Feldweg", "Schulstrasse")
ROUTERS = ("FritzBox 7590", "FritzBox 5530", "Speedport W724", "Archer AX55", "Nighthawk R7000",
           "ZyXEL VMG8825", "Huawei HG8245", "Nokia G-240W")
PLANS = ("Fiber 100", "Fiber 250", "Fiber 500", "Fiber 1000", "DSL 50", "DSL 100", "Cable 400")
AREAS = ("Nordstadt", "Südviertel", "Altstadt", "Weststadt", "Oststadt", "Hafen", "Uni-Viertel")
TEAMS = {
    "general_inquiry": "support", "billing_issue": "billing", "technical_support": "support",
    "installation_request": "field", "outage_report": "noc", "service_upgrade": "sales",
    "service_downgrade": "sales", "cancellation_request": "retention",
    "equipment_issue": "support", "speed_issue": "support", "network_issue": "noc",
    "connectivity_issue": "support",
}

# (weight, ticket type, title template, description): weights fall off roughly as 1/rank, so
# "internet" is in about a fifth of all titles and the last templates in well under 1 %.
TEMPLATES: tuple[tuple[int, str, str, str], ...] = (
    (100, "connectivity_issue", "No internet since this morning",
     "The internet has been down since this morning, all lights on the router are on."),
    (60, "speed_issue", "Slow speed on {plan}",
     "I pay for {plan} but speed tests show a fraction of it in the evenings."),
    (45, "equipment_issue", "Router {router} keeps rebooting",
     "My {router} restarts every few minutes, I already tried another socket."),
    (35, "billing_issue", "Invoice for {month} charged twice",
     "My invoice for {month} was taken twice from my account, please refund one."),
    (30, "connectivity_issue", "Wi-Fi drops every evening",
     "Wi-Fi disconnects every evening around 8 pm, cable connection is fine."),
    (25, "network_issue", "Outage in {area}",
     "Nobody in {area} has internet, the neighbours are offline too."),
    (20, "installation_request", "Installation at {street} {house}",
     "Please schedule the installation at {street} {house}, I am home on weekdays after 4."),
    (16, "service_upgrade", "Upgrade to {plan}", "I would like to upgrade my contract to {plan}."),
    (13, "technical_support", "IPTV freezing on channel {channel}",
     "The TV picture freezes on channel {channel} every few seconds."),
    (11, "cancellation_request", "Cancel my contract",
     "I am moving abroad and want to cancel my contract at the end of the term."),
    (9, "technical_support", "Email not syncing on phone",
     "My mailbox does not sync on my phone since the last update."),
    (7, "equipment_issue", "Modem lights blinking red",
     "The DSL light on the modem blinks red and there is no connection."),
    (6, "network_issue", "Fibre cut near {street}",
     "Construction work near {street} cut a cable, our whole building is offline."),
    (5, "technical_support", "Port forwarding for {service}",
     "How do I open a port for {service} on my router?"),
    (4, "service_downgrade", "Downgrade to {plan}", "Please move my contract down to {plan}."),
    (3, "general_inquiry", "Static IP request", "Can I get a static IPv4 address for my line?"),
    (2, "billing_issue", "Direct debit mandate update",
     "I changed banks, please update the direct debit mandate."),
    (1, "general_inquiry", "Question about data protection notice",
     "Who receives my connection data according to your data protection notice?"),
)
_WEIGHTS = [t[0] for t in TEMPLATES]
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
SERVICES = ("Minecraft", "Plex", "a web camera", "home assistant", "a NAS", "game server")


@dataclass(frozen=True)
class Title:
    text: str
    description: str
    ticket_type: str


def pick_title(rng: random.Random) -> Title:
    _, ticket_type, title, description = rng.choices(TEMPLATES, _WEIGHTS)[0]
    words = {
        "plan": rng.choice(PLANS), "router": rng.choice(ROUTERS), "month": rng.choice(MONTHS),
        "area": rng.choice(AREAS), "street": rng.choice(STREETS),
        "house": rng.randint(1, 180), "channel": rng.randint(1, 400),
        "service": rng.choice(SERVICES),
    }
    return Title(title.format(**words), description.format(**words), ticket_type)
